#include "gpsx/envs/loaders.h"

#include <mujoco/mujoco.h>
#include <tinyxml2.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>

namespace gpsx::envs {
namespace {

using Vec3 = std::array<double, 3>;
using Mat3 = std::array<double, 9>;  // row-major

constexpr Mat3 kIdentity = {1, 0, 0, 0, 1, 0, 0, 0, 1};

Mat3 mul(const Mat3& a, const Mat3& b) {
  Mat3 c{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) c[3 * i + j] += a[3 * i + k] * b[3 * k + j];
  return c;
}
Vec3 rotate(const Mat3& r, const Vec3& x) {
  return {r[0] * x[0] + r[1] * x[1] + r[2] * x[2], r[3] * x[0] + r[4] * x[1] + r[5] * x[2],
          r[6] * x[0] + r[7] * x[1] + r[8] * x[2]};
}
Vec3 plus(const Vec3& a, const Vec3& b) { return {a[0] + b[0], a[1] + b[1], a[2] + b[2]}; }
Mat3 transpose(const Mat3& r) { return {r[0], r[3], r[6], r[1], r[4], r[7], r[2], r[5], r[8]}; }

// Unit quaternion (w, x, y, z) to rotation matrix.
Mat3 quat_to_mat(const double* q) {
  const double w = q[0], x = q[1], y = q[2], z = q[3];
  return {1 - 2 * (y * y + z * z), 2 * (x * y - w * z),     2 * (x * z + w * y),
          2 * (x * y + w * z),     1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
          2 * (x * z - w * y),     2 * (y * z + w * x),     1 - 2 * (x * x + y * y)};
}

// URDF fixed-axis roll-pitch-yaw: R = Rz(yaw) Ry(pitch) Rx(roll).
Mat3 rpy_to_mat(const Vec3& rpy) {
  const double cr = std::cos(rpy[0]), sr = std::sin(rpy[0]);
  const double cp = std::cos(rpy[1]), sp = std::sin(rpy[1]);
  const double cy = std::cos(rpy[2]), sy = std::sin(rpy[2]);
  return {cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr,
          sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr,
          -sp,     cp * sr,                cp * cr};
}

// A body as the file describes it, before welded bodies are merged.
struct BodySpec {
  std::string name;
  int parent = -1;  // spec index, -1 = world
  Vec3 pos{};       // in parent frame
  Mat3 rot = kIdentity;
  bool has_joint = false;
  std::string joint_name;
  int joint_index = -1;  // in the file
  int joint_type = rb::kRevolute;
  Vec3 axis{0, 0, 1};
  Vec3 anchor{};
  double qref = 0, damping = 0, armature = 0;
  bool limited = false;
  double lo = 0, hi = 0;
  double mass = 0;
  Vec3 com{};
  Mat3 inertia{};  // about com, body axes
};
struct SiteSpec {
  std::string name;
  int body = -1;  // spec index
  Vec3 pos{};
};
struct ActuatorSpec {
  std::string name;
  int body = -1;  // spec index of the driven joint's body
  double gear = 1;
  bool limited = false;
  double lo = 0, hi = 0;
};

struct Contribution {
  double mass;
  Vec3 com;
  Mat3 inertia;  // about com, in the kept body's axes
};

// Merges jointless bodies into their parent (or drops them onto the world) and fills the
// chain. Specs must be in topological order.
Model compile(const std::vector<BodySpec>& bodies, const std::vector<SiteSpec>& sites,
              const std::vector<ActuatorSpec>& actuators, const Vec3& gravity,
              const std::string& source) {
  const int n = static_cast<int>(bodies.size());
  std::vector<int> kept_index(n, -1);  // spec -> our body index
  std::vector<int> anchor_body(n, -1); // spec -> kept body whose frame it is fixed in
  std::vector<Vec3> frame_pos(n);      // spec frame in anchor_body's frame
  std::vector<Mat3> frame_rot(n);
  Model model;
  model.source = source;
  rb::ChainModel<double>& c = model.chain;
  std::vector<std::vector<Contribution>> parts;
  for (int i = 0; i < n; ++i) {
    const BodySpec& b = bodies[i];
    if (b.parent >= i) throw ModelError(source + ": body '" + b.name + "' precedes its parent");
    int anc = -1;
    Vec3 p = b.pos;
    Mat3 r = b.rot;
    if (b.parent >= 0) {
      const int pa = b.parent;
      if (kept_index[pa] >= 0) {
        anc = kept_index[pa];
      } else {
        anc = anchor_body[pa];
        p = plus(frame_pos[pa], rotate(frame_rot[pa], b.pos));
        r = mul(frame_rot[pa], b.rot);
      }
    }
    if (b.has_joint) {
      const int k = c.nbody;
      if (k >= rb::kMaxDof)
        throw ModelError(source + ": more than " + std::to_string(rb::kMaxDof) +
                         " joints (body '" + b.name + "'); raise rb::kMaxDof");
      kept_index[i] = k;
      anchor_body[i] = k;
      frame_pos[i] = {0, 0, 0};
      frame_rot[i] = kIdentity;
      c.parent[k] = anc;
      c.joint_type[k] = b.joint_type;
      const double len = std::sqrt(b.axis[0] * b.axis[0] + b.axis[1] * b.axis[1] +
                                   b.axis[2] * b.axis[2]);
      if (!(len > 1e-12))
        throw ModelError(source + ": joint '" + b.joint_name + "' has a zero axis");
      for (int j = 0; j < 3; ++j) {
        c.axis[k][j] = b.axis[j] / len;
        c.anchor[k][j] = b.anchor[j];
        c.pos[k][j] = p[j];
      }
      for (int j = 0; j < 9; ++j) c.rot[k][j] = r[j];
      c.qref[k] = b.qref;
      c.damping[k] = b.damping;
      c.armature[k] = b.armature;
      c.limited[k] = b.limited ? 1 : 0;
      c.range[k][0] = b.lo;
      c.range[k][1] = b.hi;
      c.nbody = k + 1;
      model.body_names.push_back(b.name);
      model.joint_names.push_back(b.joint_name);
      model.source_joint.push_back(b.joint_index);
      parts.push_back({{b.mass, b.com, b.inertia}});
    } else {
      anchor_body[i] = anc;
      frame_pos[i] = p;
      frame_rot[i] = r;
      if (anc >= 0 && b.mass > 0)
        parts[anc].push_back({b.mass, plus(p, rotate(r, b.com)), mul(mul(r, b.inertia), transpose(r))});
    }
  }
  if (c.nbody == 0) throw ModelError(source + ": the model has no joints");
  for (int i = 0; i < n; ++i) {
    Frame f;
    f.name = bodies[i].name;
    f.body = anchor_body[i];
    for (int j = 0; j < 3; ++j) f.pos[j] = frame_pos[i][j];
    for (int j = 0; j < 9; ++j) f.rot[j] = frame_rot[i][j];
    model.frames.push_back(f);
  }
  // combine mass properties (parallel-axis theorem about the combined CoM)
  for (int k = 0; k < c.nbody; ++k) {
    double m = 0;
    Vec3 mc{};
    for (const auto& part : parts[k]) {
      m += part.mass;
      for (int j = 0; j < 3; ++j) mc[j] += part.mass * part.com[j];
    }
    const Vec3 com = m > 0 ? Vec3{mc[0] / m, mc[1] / m, mc[2] / m} : Vec3{0, 0, 0};
    Mat3 in{};
    for (const auto& part : parts[k]) {
      const Vec3 d = {part.com[0] - com[0], part.com[1] - com[1], part.com[2] - com[2]};
      const double dd = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b)
          in[3 * a + b] += part.inertia[3 * a + b] +
                           part.mass * ((a == b ? dd : 0.0) - d[a] * d[b]);
    }
    c.mass[k] = m;
    for (int j = 0; j < 3; ++j) c.com[k][j] = com[j];
    c.inertia[k][0] = in[0];
    c.inertia[k][1] = in[4];
    c.inertia[k][2] = in[8];
    c.inertia[k][3] = 0.5 * (in[1] + in[3]);
    c.inertia[k][4] = 0.5 * (in[2] + in[6]);
    c.inertia[k][5] = 0.5 * (in[5] + in[7]);
  }
  // every site is a frame; the first kMaxSites are also points of the chain, the others
  // become points when a task names them (Model::attach_site)
  for (const SiteSpec& s : sites) {
    Frame f;
    f.name = s.name;
    f.is_site = true;
    Vec3 p = s.pos;
    if (s.body >= 0) {
      f.body = anchor_body[s.body];
      p = plus(frame_pos[s.body], rotate(frame_rot[s.body], s.pos));
    }
    for (int j = 0; j < 3; ++j) f.pos[j] = p[j];
    model.frames.push_back(f);
    if (c.nsite < rb::kMaxSites) {
      const int k = c.nsite++;
      c.site_body[k] = f.body;
      for (int j = 0; j < 3; ++j) c.site_pos[k][j] = p[j];
      model.site_names.push_back(s.name);
    }
  }
  for (const ActuatorSpec& a : actuators) {
    const int k = c.nu++;
    c.actuator_dof[k] = kept_index[a.body];
    c.gear[k] = a.gear;
    c.ctrl_limited[k] = a.limited ? 1 : 0;
    c.ctrl_range[k][0] = a.lo;
    c.ctrl_range[k][1] = a.hi;
    model.actuator_names.push_back(a.name);
  }
  for (int j = 0; j < 3; ++j) c.gravity[j] = gravity[j];
  // a moving body whose subtree has no mass, inertia or armature makes H singular for
  // every configuration (MuJoCo refuses such models too)
  std::vector<double> subtree(c.nbody, 0.0);
  for (int k = c.nbody - 1; k >= 0; --k) {
    subtree[k] += c.mass[k] + c.armature[k];
    for (int j = 0; j < 6; ++j) subtree[k] += std::abs(c.inertia[k][j]);
    if (c.parent[k] >= 0) subtree[c.parent[k]] += subtree[k];
  }
  for (int k = 0; k < c.nbody; ++k)
    if (!(subtree[k] > 0))
      throw ModelError(source + ": joint '" + model.joint_names[k] + "' moves body '" +
                       model.body_names[k] +
                       "' whose subtree has no mass, inertia or armature (singular dynamics)");
  return model;
}

// ------------------------------------------------------------------------------- MJCF

std::string mj_name_or(const mjModel* m, int type, int id, const char* what) {
  const char* s = mj_id2name(m, type, id);
  if (s && *s) return std::string(what) + " '" + s + "'";
  return std::string(what) + " #" + std::to_string(id);
}

}  // namespace

Model from_mujoco(const mjModel* m, const std::string& src) {
  const auto fail = [&](const std::string& what) { throw ModelError(src + ": " + what); };
  if (m->ntendon > 0)
    fail(mj_name_or(m, mjOBJ_TENDON, 0, "tendon") + ": tendons are not supported");
  if (m->neq > 0)
    fail(mj_name_or(m, mjOBJ_EQUALITY, 0, "equality") +
         ": equality constraints are not supported");
  const bool contact_off = (m->opt.disableflags & (mjDSBL_CONTACT | mjDSBL_CONSTRAINT)) != 0;
  if (!contact_off) {
    for (int g = 0; g < m->ngeom; ++g)
      if (m->geom_contype[g] != 0 || m->geom_conaffinity[g] != 0)
        fail(mj_name_or(m, mjOBJ_GEOM, g, "geom") +
             " can collide (contype/conaffinity != 0): gpsx simulates no contacts; set "
             "contype=\"0\" conaffinity=\"0\" or <option><flag contact=\"disable\"/>");
    if (m->npair > 0) fail("explicit contact <pair> elements are not supported");
  }
  if (m->opt.integrator == mjINT_IMPLICIT)
    fail("option integrator=\"implicit\" is not supported (use Euler or RK4)");
  if (m->opt.density != 0 || m->opt.viscosity != 0 || m->opt.wind[0] != 0 ||
      m->opt.wind[1] != 0 || m->opt.wind[2] != 0)
    fail("option density/viscosity/wind (fluid forces) is not supported");
  for (int j = 0; j < m->njnt; ++j) {
    const int t = m->jnt_type[j];
    if (t == mjJNT_FREE || t == mjJNT_BALL)
      fail(mj_name_or(m, mjOBJ_JOINT, j, "joint") + ": " +
           (t == mjJNT_FREE ? "free" : "ball") +
           " joints are not supported (only hinge and slide)");
    if (m->jnt_stiffness[j] != 0)
      fail(mj_name_or(m, mjOBJ_JOINT, j, "joint") + ": joint stiffness is not supported");
    if (m->dof_frictionloss[m->jnt_dofadr[j]] != 0)
      fail(mj_name_or(m, mjOBJ_JOINT, j, "joint") + ": frictionloss is not supported");
  }
  std::vector<BodySpec> bodies;
  std::vector<int> spec_of_body(m->nbody, -1);
  for (int b = 1; b < m->nbody; ++b) {
    if (m->body_jntnum[b] > 1)
      fail(mj_name_or(m, mjOBJ_BODY, b, "body") + " has " +
           std::to_string(m->body_jntnum[b]) +
           " joints; gpsx needs one joint per body (nest a body per joint)");
    if (m->body_mocapid[b] >= 0) fail(mj_name_or(m, mjOBJ_BODY, b, "body") + ": mocap bodies are not supported");
    BodySpec s;
    const char* nm = mj_id2name(m, mjOBJ_BODY, b);
    s.name = nm ? nm : ("body" + std::to_string(b));
    s.parent = spec_of_body[m->body_parentid[b]];
    for (int j = 0; j < 3; ++j) s.pos[j] = m->body_pos[3 * b + j];
    s.rot = quat_to_mat(m->body_quat + 4 * b);
    s.mass = m->body_mass[b];
    for (int j = 0; j < 3; ++j) s.com[j] = m->body_ipos[3 * b + j];
    const Mat3 ri = quat_to_mat(m->body_iquat + 4 * b);
    const double* d = m->body_inertia + 3 * b;
    const Mat3 diag = {d[0], 0, 0, 0, d[1], 0, 0, 0, d[2]};
    s.inertia = mul(mul(ri, diag), transpose(ri));
    if (m->body_jntnum[b] == 1) {
      const int j = m->body_jntadr[b];
      const int dof = m->jnt_dofadr[j];
      s.has_joint = true;
      const char* jn = mj_id2name(m, mjOBJ_JOINT, j);
      s.joint_name = jn ? jn : ("joint" + std::to_string(j));
      s.joint_index = j;
      s.joint_type = m->jnt_type[j] == mjJNT_HINGE ? rb::kRevolute : rb::kPrismatic;
      for (int k = 0; k < 3; ++k) {
        s.axis[k] = m->jnt_axis[3 * j + k];
        s.anchor[k] = m->jnt_pos[3 * j + k];
      }
      // only the rotation about a hinge depends on its anchor; a slide ignores it
      if (s.joint_type == rb::kPrismatic) s.anchor = {0, 0, 0};
      s.qref = m->qpos0[m->jnt_qposadr[j]];
      s.damping = m->dof_damping[dof];
      s.armature = m->dof_armature[dof];
      s.limited = m->jnt_limited[j] != 0;
      s.lo = m->jnt_range[2 * j];
      s.hi = m->jnt_range[2 * j + 1];
    }
    spec_of_body[b] = static_cast<int>(bodies.size());
    bodies.push_back(s);
  }
  std::vector<SiteSpec> sites;
  for (int i = 0; i < m->nsite; ++i) {
    SiteSpec s;
    const char* nm = mj_id2name(m, mjOBJ_SITE, i);
    s.name = nm ? nm : ("site" + std::to_string(i));
    s.body = spec_of_body[m->site_bodyid[i]];
    for (int j = 0; j < 3; ++j) s.pos[j] = m->site_pos[3 * i + j];
    sites.push_back(s);
  }
  std::vector<ActuatorSpec> acts;
  for (int a = 0; a < m->nu; ++a) {
    const std::string what = mj_name_or(m, mjOBJ_ACTUATOR, a, "actuator");
    const int trn = m->actuator_trntype[a];
    if (trn != mjTRN_JOINT && trn != mjTRN_JOINTINPARENT)
      fail(what + ": only joint transmissions are supported");
    if (m->actuator_dyntype[a] != mjDYN_NONE || m->actuator_gaintype[a] != mjGAIN_FIXED ||
        m->actuator_biastype[a] != mjBIAS_NONE)
      fail(what + ": only motor actuators (no dynamics, fixed gain, no bias) are supported");
    if (m->actuator_forcelimited[a])
      fail(what + ": forcelimited is not supported (limit ctrlrange instead)");
    ActuatorSpec s;
    const char* nm = mj_id2name(m, mjOBJ_ACTUATOR, a);
    s.name = nm ? nm : ("actuator" + std::to_string(a));
    const int j = m->actuator_trnid[2 * a];
    s.body = spec_of_body[m->jnt_bodyid[j]];
    s.gear = m->actuator_gear[6 * a] * m->actuator_gainprm[mjNGAIN * a];
    s.limited = m->actuator_ctrllimited[a] && !(m->opt.disableflags & mjDSBL_CLAMPCTRL);
    s.lo = m->actuator_ctrlrange[2 * a];
    s.hi = m->actuator_ctrlrange[2 * a + 1];
    acts.push_back(s);
  }
  Vec3 gravity = {m->opt.gravity[0], m->opt.gravity[1], m->opt.gravity[2]};
  if (m->opt.disableflags & mjDSBL_GRAVITY) gravity = {0, 0, 0};
  Model model = compile(bodies, sites, acts, gravity, src);
  if (m->opt.disableflags & mjDSBL_PASSIVE)
    for (int i = 0; i < model.chain.nbody; ++i) model.chain.damping[i] = 0;
  model.timestep = m->opt.timestep;
  model.integrator = m->opt.integrator == mjINT_RK4 ? rb::kRk4 : rb::kEuler;
  model.format = "mjcf";
  return model;
}

Model load_mjcf(const std::string& path) {
  char err[1024] = {0};
  mjModel* m = mj_loadXML(path.c_str(), nullptr, err, sizeof err);
  if (!m) throw ModelError(path + ": MuJoCo could not load the MJCF: " + err);
  std::unique_ptr<mjModel, void (*)(mjModel*)> owner(m, mj_deleteModel);
  return from_mujoco(m, path);
}

// ------------------------------------------------------------------------------- URDF
namespace {

struct UrdfReader {
  std::string path;

  [[noreturn]] void fail(const std::string& what) const { throw ModelError(path + ": " + what); }

  Vec3 vec3(const tinyxml2::XMLElement* e, const char* attr, const Vec3& fallback,
            const std::string& where) const {
    if (!e) return fallback;
    const char* s = e->Attribute(attr);
    if (!s) return fallback;
    std::istringstream in(s);
    Vec3 v{};
    for (double& x : v)
      if (!(in >> x)) fail(where + ": attribute " + attr + "=\"" + s + "\" needs 3 numbers");
    std::string rest;
    if (in >> rest) fail(where + ": attribute " + attr + "=\"" + s + "\" needs 3 numbers");
    return v;
  }

  double number(const tinyxml2::XMLElement* e, const char* attr, double fallback, bool required,
                const std::string& where) const {
    const char* s = e ? e->Attribute(attr) : nullptr;
    if (!s) {
      if (required) fail(where + ": missing attribute " + attr);
      return fallback;
    }
    char* end = nullptr;
    const double v = std::strtod(s, &end);
    if (end == s || *end != '\0' || !std::isfinite(v))
      fail(where + ": attribute " + attr + "=\"" + s + "\" is not a number");
    return v;
  }
};

}  // namespace

Model load_urdf(const std::string& path) {
  UrdfReader r{path};
  tinyxml2::XMLDocument doc;
  if (doc.LoadFile(path.c_str()) != tinyxml2::XML_SUCCESS)
    r.fail(std::string("malformed XML: ") + doc.ErrorStr());
  const tinyxml2::XMLElement* robot = doc.FirstChildElement("robot");
  if (!robot) r.fail("no <robot> element");

  struct Link {
    std::string name;
    double mass = 0;
    Vec3 com{};
    Mat3 inertia{};
  };
  std::vector<Link> links;
  std::map<std::string, int> link_index;
  for (auto* e = robot->FirstChildElement("link"); e; e = e->NextSiblingElement("link")) {
    const char* nm = e->Attribute("name");
    if (!nm) r.fail("<link> without a name");
    const std::string where = std::string("link '") + nm + "'";
    if (link_index.count(nm)) r.fail(where + " is defined twice");
    Link l;
    l.name = nm;
    if (auto* in = e->FirstChildElement("inertial")) {
      auto* origin = in->FirstChildElement("origin");
      l.com = r.vec3(origin, "xyz", {0, 0, 0}, where + " <inertial><origin>");
      const Mat3 rot = rpy_to_mat(r.vec3(origin, "rpy", {0, 0, 0}, where + " <inertial><origin>"));
      auto* mass = in->FirstChildElement("mass");
      if (!mass) r.fail(where + ": <inertial> without <mass>");
      l.mass = r.number(mass, "value", 0, true, where + " <mass>");
      if (l.mass < 0) r.fail(where + ": negative mass");
      auto* ie = in->FirstChildElement("inertia");
      if (!ie) r.fail(where + ": <inertial> without <inertia>");
      const std::string iw = where + " <inertia>";
      const double ixx = r.number(ie, "ixx", 0, true, iw), iyy = r.number(ie, "iyy", 0, true, iw),
                   izz = r.number(ie, "izz", 0, true, iw), ixy = r.number(ie, "ixy", 0, false, iw),
                   ixz = r.number(ie, "ixz", 0, false, iw), iyz = r.number(ie, "iyz", 0, false, iw);
      const Mat3 local = {ixx, ixy, ixz, ixy, iyy, iyz, ixz, iyz, izz};
      l.inertia = mul(mul(rot, local), transpose(rot));
    }
    link_index[l.name] = static_cast<int>(links.size());
    links.push_back(l);
  }
  if (links.empty()) r.fail("<robot> has no <link>");

  struct Joint {
    const tinyxml2::XMLElement* e;
    std::string name;
    int parent, child;
  };
  std::vector<Joint> joints;
  std::vector<int> parent_joint(links.size(), -1);
  for (auto* e = robot->FirstChildElement("joint"); e; e = e->NextSiblingElement("joint")) {
    const char* nm = e->Attribute("name");
    if (!nm) r.fail("<joint> without a name");
    const std::string where = std::string("joint '") + nm + "'";
    const auto link_of = [&](const char* tag) {
      auto* x = e->FirstChildElement(tag);
      const char* l = x ? x->Attribute("link") : nullptr;
      if (!l) r.fail(where + ": missing <" + tag + " link=...>");
      auto it = link_index.find(l);
      if (it == link_index.end()) r.fail(where + ": <" + tag + "> names unknown link '" + l + "'");
      return it->second;
    };
    Joint j{e, nm, link_of("parent"), link_of("child")};
    if (parent_joint[j.child] >= 0)
      r.fail(where + ": link '" + links[j.child].name + "' has two parent joints");
    parent_joint[j.child] = static_cast<int>(joints.size());
    joints.push_back(j);
  }
  int root = -1;
  for (size_t i = 0; i < links.size(); ++i)
    if (parent_joint[i] < 0) {
      if (root >= 0)
        r.fail("links '" + links[root].name + "' and '" + links[i].name +
               "' both have no parent joint (one root expected)");
      root = static_cast<int>(i);
    }
  if (root < 0) r.fail("the joints form a cycle (no root link)");

  // breadth-first from the root gives parents before children; the root link is the
  // fixed base (welded to the world)
  std::vector<BodySpec> bodies;
  std::vector<SiteSpec> sites;
  std::vector<ActuatorSpec> acts;
  std::vector<int> spec_of_link(links.size(), -1);
  std::vector<int> queue = {root};
  for (size_t qi = 0; qi < queue.size(); ++qi) {
    const int li = queue[qi];
    for (const Joint& j : joints)
      if (j.parent == li) queue.push_back(j.child);
    if (li == root) continue;  // welded to the world: no dynamics
    const Joint& j = joints[parent_joint[li]];
    const std::string where = "joint '" + j.name + "'";
    const char* type = j.e->Attribute("type");
    if (!type) r.fail(where + ": missing type");
    const std::string t = type;
    BodySpec s;
    s.name = links[li].name;
    s.parent = spec_of_link[j.parent];
    auto* origin = j.e->FirstChildElement("origin");
    s.pos = r.vec3(origin, "xyz", {0, 0, 0}, where + " <origin>");
    s.rot = rpy_to_mat(r.vec3(origin, "rpy", {0, 0, 0}, where + " <origin>"));
    s.mass = links[li].mass;
    s.com = links[li].com;
    s.inertia = links[li].inertia;
    if (j.e->FirstChildElement("mimic"))
      r.fail(where + ": <mimic> couples joints, which needs a constraint; not supported");
    if (t == "revolute" || t == "continuous" || t == "prismatic") {
      s.has_joint = true;
      s.joint_name = j.name;
      s.joint_index = parent_joint[li];
      s.joint_type = t == "prismatic" ? rb::kPrismatic : rb::kRevolute;
      s.axis = r.vec3(j.e->FirstChildElement("axis"), "xyz", {1, 0, 0}, where + " <axis>");
      auto* dyn = j.e->FirstChildElement("dynamics");
      s.damping = r.number(dyn, "damping", 0, false, where + " <dynamics>");
      if (r.number(dyn, "friction", 0, false, where + " <dynamics>") != 0)
        r.fail(where + ": <dynamics friction> is not supported (no friction model)");
      auto* lim = j.e->FirstChildElement("limit");
      ActuatorSpec a;
      a.name = j.name;
      a.body = static_cast<int>(bodies.size());
      if (t != "continuous") {
        if (!lim) r.fail(where + ": a " + t + " joint needs <limit>");
        s.limited = true;
        s.lo = r.number(lim, "lower", 0, false, where + " <limit>");
        s.hi = r.number(lim, "upper", 0, false, where + " <limit>");
        if (s.lo > s.hi) r.fail(where + ": <limit> lower > upper");
      }
      if (lim) {
        const double effort = r.number(lim, "effort", 0, t != "continuous", where + " <limit>");
        if (effort < 0) r.fail(where + ": negative effort");
        if (effort > 0) {
          a.limited = true;
          a.lo = -effort;
          a.hi = effort;
        }
      }
      acts.push_back(a);
    } else if (t != "fixed") {
      r.fail(where + ": type \"" + t + "\" is not supported (revolute, continuous, prismatic, fixed)");
    }
    spec_of_link[li] = static_cast<int>(bodies.size());
    bodies.push_back(s);
  }
  Model model = compile(bodies, sites, acts, {0, 0, -9.81}, path);
  model.format = "urdf";
  return model;
}

Model load_model(const std::string& path) {
  const auto ends_with = [&](const char* suffix) {
    const size_t n = std::strlen(suffix);
    return path.size() >= n && path.compare(path.size() - n, n, suffix) == 0;
  };
  return ends_with(".urdf") ? load_urdf(path) : load_mjcf(path);
}

int Model::site_index(const std::string& name) const {
  for (size_t i = 0; i < site_names.size(); ++i)
    if (site_names[i] == name) return static_cast<int>(i);
  std::string known;
  for (const auto& s : site_names) known += " " + s;
  std::string unattached;
  for (const auto& f : frames)
    if (f.is_site && std::find(site_names.begin(), site_names.end(), f.name) == site_names.end())
      unattached += " " + f.name;
  throw ModelError(source + ": no site named '" + name + "' among the model's points (sites:" +
                   (known.empty() ? " none" : known) + ")" +
                   (unattached.empty() ? "" : "; not attached (Model::attach_site):" + unattached));
}

int Model::attach_site(const std::string& name) {
  for (size_t i = 0; i < site_names.size(); ++i)
    if (site_names[i] == name) return static_cast<int>(i);
  for (const auto& f : frames)
    if (f.is_site && f.name == name) {
      if (chain.nsite >= rb::kMaxSites)
        throw ModelError(source + ": site '" + name + "' would be point number " +
                         std::to_string(chain.nsite + 1) + "; at most " +
                         std::to_string(rb::kMaxSites) + " points (raise rb::kMaxSites)");
      const int k = chain.nsite++;
      chain.site_body[k] = f.body;
      for (int j = 0; j < 3; ++j) chain.site_pos[k][j] = f.pos[j];
      site_names.push_back(name);
      return k;
    }
  return site_index(name);  // throws, listing the sites
}

int Model::add_site(const std::string& name, const std::string& frame, const double* pos) {
  for (const auto& s : site_names)
    if (s == name) throw ModelError(source + ": a site named '" + name + "' exists already");
  const Frame* f = nullptr;
  for (const auto& fr : frames)
    if (!fr.is_site && fr.name == frame) f = &fr;
  if (!f) throw ModelError(source + ": no body or link named '" + frame + "' for point '" + name + "'");
  if (chain.nsite >= rb::kMaxSites)
    throw ModelError(source + ": more than " + std::to_string(rb::kMaxSites) + " sites (point '" +
                     name + "')");
  const int k = chain.nsite++;
  chain.site_body[k] = f->body;
  const Vec3 p = plus({f->pos[0], f->pos[1], f->pos[2]},
                      rotate({f->rot[0], f->rot[1], f->rot[2], f->rot[3], f->rot[4], f->rot[5],
                              f->rot[6], f->rot[7], f->rot[8]},
                             {pos[0], pos[1], pos[2]}));
  for (int j = 0; j < 3; ++j) chain.site_pos[k][j] = p[j];
  site_names.push_back(name);
  return k;
}

template <class T>
rb::ChainModel<T> cast_chain(const rb::ChainModel<double>& m) {
  return rb::convert_model<T>(m);
}

template rb::ChainModel<float> cast_chain<float>(const rb::ChainModel<double>&);
template rb::ChainModel<double> cast_chain<double>(const rb::ChainModel<double>&);

}  // namespace gpsx::envs
