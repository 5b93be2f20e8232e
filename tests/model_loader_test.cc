// Malformed and unsupported model / task / CSV files each give a clear error naming the
// file and the element (label: unit). Files are written inline to a temporary directory.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gpsx/envs/data_dir.h"
#include "gpsx/envs/loaders.h"
#include "gpsx/envs/model_tools.h"
#include "gpsx/envs/sim.h"
#include "gpsx/envs/task.h"

namespace {

namespace fs = std::filesystem;
using gpsx::envs::ModelError;

fs::path temp_dir() {
  const fs::path d = fs::temp_directory_path() /
                     ("gpsx_loader_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
                      "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::create_directories(d);
  return d;
}

std::string write(const std::string& name, const std::string& text) {
  const fs::path p = temp_dir() / name;
  std::ofstream(p) << text;
  return p.string();
}

// Expects a ModelError whose message contains the file and every given fragment.
template <class F>
void expect_error(F&& f, const std::string& file, std::initializer_list<const char*> fragments) {
  try {
    f();
    FAIL() << "no error for " << file;
  } catch (const ModelError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(file), std::string::npos) << msg;
    for (const char* frag : fragments) EXPECT_NE(msg.find(frag), std::string::npos) << "missing \"" << frag << "\" in: " << msg;
  }
}

std::string mjcf(const std::string& option, const std::string& bodies,
                 const std::string& extra = "") {
  return "<mujoco><compiler angle=\"radian\" inertiafromgeom=\"false\"/>" + option +
         "<worldbody>" + bodies + "</worldbody>" + extra + "</mujoco>";
}
const std::string kNoContact = "<option><flag contact=\"disable\"/></option>";
const std::string kHinge =
    "<body name=\"b1\"><joint name=\"j1\" type=\"hinge\" axis=\"0 0 1\"/>"
    "<inertial pos=\"0.1 0 0\" mass=\"1\" diaginertia=\"0.01 0.01 0.01\"/></body>";

// ---------------------------------------------------------------- MJCF

TEST(LoadMjcf, MalformedXml) {
  const auto p = write("bad.xml", "<mujoco><worldbody><body></mujoco>");
  expect_error([&] { gpsx::envs::load_mjcf(p); }, p, {"MuJoCo could not load"});
}

TEST(LoadMjcf, MissingFile) {
  const std::string p = "/nonexistent/gpsx/model.xml";
  expect_error([&] { gpsx::envs::load_mjcf(p); }, p, {"MuJoCo could not load"});
}

TEST(LoadMjcf, CollidingGeomIsRejected) {
  const auto p = write("contact.xml",
                       mjcf("", "<body name=\"b1\"><joint name=\"j1\"/><geom name=\"g1\" size=\"0.1\"/>"
                                "<inertial pos=\"0.1 0 0\" mass=\"1\" diaginertia=\"0.01 0.01 0.01\"/></body>"));
  expect_error([&] { gpsx::envs::load_mjcf(p); }, p, {"geom 'g1'", "contact"});
}

TEST(LoadMjcf, TendonIsRejected) {
  const auto p = write("tendon.xml",
                       mjcf(kNoContact, kHinge,
                            "<tendon><fixed name=\"t1\"><joint joint=\"j1\" coef=\"1\"/></fixed></tendon>"));
  expect_error([&] { gpsx::envs::load_mjcf(p); }, p, {"tendon 't1'"});
}

TEST(LoadMjcf, FreeJointIsRejected) {
  const auto p = write("free.xml", mjcf(kNoContact,
                                        "<body name=\"b1\"><freejoint name=\"fj\"/>"
                                        "<inertial pos=\"0 0 0\" mass=\"1\" diaginertia=\"0.01 0.01 0.01\"/></body>"));
  expect_error([&] { gpsx::envs::load_mjcf(p); }, p, {"joint 'fj'", "free"});
}

TEST(LoadMjcf, BallJointIsRejected) {
  const auto p = write("ball.xml", mjcf(kNoContact,
                                        "<body name=\"b1\"><joint name=\"bj\" type=\"ball\"/>"
                                        "<inertial pos=\"0 0 0\" mass=\"1\" diaginertia=\"0.01 0.01 0.01\"/></body>"));
  expect_error([&] { gpsx::envs::load_mjcf(p); }, p, {"joint 'bj'", "ball"});
}

TEST(LoadMjcf, PositionActuatorIsRejected) {
  const auto p = write("servo.xml", mjcf(kNoContact, kHinge,
                                         "<actuator><position name=\"servo\" joint=\"j1\" kp=\"10\"/></actuator>"));
  expect_error([&] { gpsx::envs::load_mjcf(p); }, p, {"actuator 'servo'", "motor"});
}

TEST(LoadMjcf, TwoJointsInOneBodyAreRejected) {
  const auto p = write("twojoints.xml",
                       mjcf(kNoContact,
                            "<body name=\"b2\"><joint name=\"ja\" axis=\"1 0 0\"/><joint name=\"jb\" axis=\"0 1 0\"/>"
                            "<inertial pos=\"0 0 0\" mass=\"1\" diaginertia=\"0.01 0.01 0.01\"/></body>"));
  expect_error([&] { gpsx::envs::load_mjcf(p); }, p, {"body 'b2'", "one joint per body"});
}

TEST(LoadMjcf, JointStiffnessIsRejected) {
  const auto p = write("stiff.xml", mjcf(kNoContact,
                                         "<body name=\"b1\"><joint name=\"js\" stiffness=\"3\"/>"
                                         "<inertial pos=\"0.1 0 0\" mass=\"1\" diaginertia=\"0.01 0.01 0.01\"/></body>"));
  expect_error([&] { gpsx::envs::load_mjcf(p); }, p, {"joint 'js'", "stiffness"});
}

TEST(LoadMjcf, EqualityConstraintIsRejected) {
  const auto p = write("equality.xml",
                       mjcf(kNoContact, kHinge, "<equality><joint name=\"eq1\" joint1=\"j1\"/></equality>"));
  expect_error([&] { gpsx::envs::load_mjcf(p); }, p, {"equality 'eq1'"});
}

TEST(LoadMjcf, ContactFreeModelLoads) {
  const auto p = write("ok.xml", mjcf(kNoContact, kHinge));
  const auto m = gpsx::envs::load_mjcf(p);
  EXPECT_EQ(m.nv(), 1);
  EXPECT_EQ(m.joint_names[0], "j1");
}

// ---------------------------------------------------------------- URDF

const char* kLink =
    "<link name=\"%s\"><inertial><mass value=\"1\"/><inertia ixx=\"0.01\" iyy=\"0.01\" "
    "izz=\"0.01\"/></inertial></link>";
std::string link(const std::string& name) {
  std::string s = kLink;
  return s.replace(s.find("%s"), 2, name);
}
std::string joint(const std::string& name, const std::string& type, const std::string& parent,
                  const std::string& child, const std::string& inner = "") {
  return "<joint name=\"" + name + "\" type=\"" + type + "\"><parent link=\"" + parent +
         "\"/><child link=\"" + child + "\"/>" + inner + "</joint>";
}
const std::string kLimit = "<limit lower=\"-1\" upper=\"1\" effort=\"5\" velocity=\"1\"/>";

TEST(LoadUrdf, MalformedXml) {
  const auto p = write("bad.urdf", "<robot name=\"r\"><link name=\"a\"></robot>");
  expect_error([&] { gpsx::envs::load_urdf(p); }, p, {"malformed XML"});
}

TEST(LoadUrdf, MissingFile) {
  const std::string p = "/nonexistent/gpsx/robot.urdf";
  expect_error([&] { gpsx::envs::load_urdf(p); }, p, {"malformed XML"});
}

TEST(LoadUrdf, NoRobotElement) {
  const auto p = write("norobot.urdf", "<model name=\"r\"/>");
  expect_error([&] { gpsx::envs::load_urdf(p); }, p, {"<robot>"});
}

TEST(LoadUrdf, UnknownLinkInJoint) {
  const auto p = write("unknown.urdf", "<robot name=\"r\">" + link("base") + link("l1") +
                                           joint("j1", "revolute", "base", "ghost", kLimit) + "</robot>");
  expect_error([&] { gpsx::envs::load_urdf(p); }, p, {"joint 'j1'", "unknown link 'ghost'"});
}

TEST(LoadUrdf, FloatingJointIsRejected) {
  const auto p = write("floating.urdf", "<robot name=\"r\">" + link("base") + link("l1") +
                                            joint("jf", "floating", "base", "l1") + "</robot>");
  expect_error([&] { gpsx::envs::load_urdf(p); }, p, {"joint 'jf'", "floating"});
}

TEST(LoadUrdf, BadNumber) {
  const auto p = write("badnum.urdf",
                       "<robot name=\"r\">" + link("base") + link("l1") +
                           joint("j1", "revolute", "base", "l1",
                                 "<origin xyz=\"0 zero 0\"/>" + kLimit) + "</robot>");
  expect_error([&] { gpsx::envs::load_urdf(p); }, p, {"joint 'j1'", "xyz"});
}

TEST(LoadUrdf, TwoRoots) {
  const auto p = write("tworoots.urdf", "<robot name=\"r\">" + link("base") + link("other") +
                                            link("l1") + joint("j1", "revolute", "base", "l1", kLimit) +
                                            "</robot>");
  expect_error([&] { gpsx::envs::load_urdf(p); }, p, {"'base'", "'other'", "root"});
}

TEST(LoadUrdf, RevoluteWithoutLimit) {
  const auto p = write("nolimit.urdf", "<robot name=\"r\">" + link("base") + link("l1") +
                                           joint("j1", "revolute", "base", "l1") + "</robot>");
  expect_error([&] { gpsx::envs::load_urdf(p); }, p, {"joint 'j1'", "<limit>"});
}

TEST(LoadUrdf, MissingMass) {
  const auto p = write("nomass.urdf",
                       "<robot name=\"r\">" + link("base") +
                           "<link name=\"l1\"><inertial><inertia ixx=\"1\" iyy=\"1\" izz=\"1\"/></inertial></link>" +
                           joint("j1", "revolute", "base", "l1", kLimit) + "</robot>");
  expect_error([&] { gpsx::envs::load_urdf(p); }, p, {"link 'l1'", "<mass>"});
}

TEST(LoadUrdf, FixedJointsAreMerged) {
  const auto p = write("fixed.urdf", "<robot name=\"r\">" + link("base") + link("l1") + link("l2") +
                                         joint("j1", "continuous", "base", "l1") +
                                         joint("weld", "fixed", "l1", "l2", "<origin xyz=\"1 0 0\"/>") +
                                         "</robot>");
  const auto m = gpsx::envs::load_urdf(p);
  ASSERT_EQ(m.nv(), 1);
  EXPECT_DOUBLE_EQ(m.chain.mass[0], 2.0);
  EXPECT_DOUBLE_EQ(m.chain.com[0][0], 0.5);
  EXPECT_EQ(m.chain.limited[0], 0);
  EXPECT_EQ(m.nu(), 1);
}

// ---------------------------------------------------------------- task YAML

std::string task_with(const std::string& body) {
  const auto dir = temp_dir();
  fs::copy_file(gpsx::envs::find_model_file("reacher2.xml"), dir / "reacher2.xml",
                fs::copy_options::overwrite_existing);
  return write("task.yaml", "model: reacher2.xml\n" + body);
}

TEST(LoadTask, UnknownSensor) {
  const auto p = task_with("sensors: [JOINT_ANGLES, RGB_IMAGE]\n");
  expect_error([&] { gpsx::envs::load_task(p); }, p, {"RGB_IMAGE"});
}

TEST(LoadTask, WrongInitialStateSize) {
  const auto p = task_with("conditions:\n  - q0: [0.1, 0.2, 0.3]\n");
  expect_error([&] { gpsx::envs::load_task(p); }, p, {"conditions[0].q0", "expected 2"});
}

TEST(LoadTask, UnknownSite) {
  const auto p = task_with("ee_sites: [nowhere]\n");
  expect_error([&] { gpsx::envs::load_task(p); }, "reacher2.xml", {"nowhere"});
}

TEST(LoadTask, MissingModel) {
  const auto p = write("nomodel.yaml", "name: x\n");
  expect_error([&] { gpsx::envs::load_task(p); }, p, {"model"});
}

// ---------------------------------------------------------------- qacc CSV

class ModelQaccCsv : public ::testing::Test {
 protected:
  gpsx::envs::Model model = gpsx::envs::load_model(gpsx::envs::find_model_file("reacher2.xml"));
  const std::string header = "q1,q2,qd1,qd2,tau1,tau2\n";
  std::string out = (temp_dir() / "qacc.csv").string();
  int run(const std::string& in) { return gpsx::envs::qacc_csv(model, gpsx::cpu_executor(1), in, out); }
};

TEST_F(ModelQaccCsv, WritesOneRowPerState) {
  const auto in = write("in.csv", header + "0.1,0.2,0.3,0.4,0.5,0.6\n0,0,0,0,1,0\n");
  EXPECT_EQ(run(in), 2);
  std::ifstream f(out);
  std::string line;
  std::getline(f, line);
  EXPECT_EQ(line, "qacc_joint1,qacc_joint2");
  std::vector<double> got;
  while (std::getline(f, line)) {
    std::istringstream row(line);
    for (std::string cell; std::getline(row, cell, ',');) got.push_back(std::stod(cell));
  }
  // the same accelerations as the library call
  const std::vector<double> q = {0.1, 0.2, 0, 0}, qd = {0.3, 0.4, 0, 0}, tau = {0.5, 0.6, 1, 0};
  std::vector<double> qacc(4);
  gpsx::envs::accelerations(gpsx::cpu_executor(1), model.chain, 2, q.data(), qd.data(), tau.data(),
                            qacc.data(), static_cast<std::uint32_t*>(nullptr));
  ASSERT_EQ(got.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(got[i], qacc[i]);
}

TEST_F(ModelQaccCsv, WrongColumnCount) {
  const auto in = write("cols.csv", header + "0.1,0.2,0.3\n");
  expect_error([&] { run(in); }, in, {"line 2", "3 columns", "expected 6"});
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(ModelQaccCsv, NotANumber) {
  const auto in = write("nan.csv", header + "0.1,0.2,abc,0.4,0.5,0.6\n");
  expect_error([&] { run(in); }, in, {"line 2", "column 3", "'qd1'", "abc"});
}

TEST_F(ModelQaccCsv, EmptyFile) {
  const auto in = write("empty.csv", "");
  expect_error([&] { run(in); }, in, {"empty"});
}

TEST_F(ModelQaccCsv, HeaderWithWrongWidth) {
  const auto in = write("header.csv", "q1,q2\n");
  expect_error([&] { run(in); }, in, {"header", "expected 6"});
}

}  // namespace

namespace {

TEST(LoadUrdf, MimicJointIsRejected) {
  const auto p = write("mimic.urdf", "<robot name=\"r\">" + link("base") + link("l1") + link("l2") +
                                         joint("j1", "revolute", "base", "l1", kLimit) +
                                         joint("j2", "revolute", "l1", "l2", kLimit + "<mimic joint=\"j1\"/>") +
                                         "</robot>");
  expect_error([&] { gpsx::envs::load_urdf(p); }, p, {"joint 'j2'", "mimic"});
}

TEST(LoadUrdf, MasslessMovingLinkIsRejected) {
  const auto p = write("massless.urdf", "<robot name=\"r\">" + link("base") + "<link name=\"ghost\"/>" +
                                            joint("j1", "continuous", "base", "ghost") + "</robot>");
  expect_error([&] { gpsx::envs::load_urdf(p); }, p, {"joint 'j1'", "'ghost'", "no mass"});
}

// Sites past the chain's capacity are attached when a task asks for them by name;
// site_index only looks up.
TEST(LoadMjcf, ManySitesAttachOnDemand) {
  std::string sites;
  for (int i = 0; i < gpsx::rb::kMaxSites + 3; ++i)
    sites += "<site name=\"s" + std::to_string(i) + "\" pos=\"" + std::to_string(0.1 * i) + " 0 0\"/>";
  const auto p = write("sites.xml", mjcf(kNoContact,
                                         "<body name=\"b1\"><joint name=\"j1\"/>"
                                         "<inertial pos=\"0.1 0 0\" mass=\"1\" diaginertia=\"0.01 0.01 0.01\"/>" +
                                             sites + "</body>"));
  auto m = gpsx::envs::load_mjcf(p);
  EXPECT_EQ(m.chain.nsite, gpsx::rb::kMaxSites);
  const std::string last = "s" + std::to_string(gpsx::rb::kMaxSites + 2);
  expect_error([&] { m.attach_site(last); }, p, {last.c_str(), "at most"});
  m.chain.nsite = 2;  // a task that uses few points leaves room
  m.site_names.resize(2);
  // lookup never attaches: it names the site and lists the model's points
  expect_error([&] { m.site_index(last); }, p, {("'" + last + "'").c_str(), "sites: s0 s1)"});
  EXPECT_EQ(m.chain.nsite, 2);
  const int k = m.attach_site(last);
  EXPECT_EQ(k, 2);
  EXPECT_EQ(m.site_index(last), 2);
  EXPECT_EQ(m.attach_site(last), 2);  // attaching twice is a lookup
  EXPECT_EQ(m.chain.nsite, 3);
  EXPECT_DOUBLE_EQ(m.chain.site_pos[k][0], 0.1 * (gpsx::rb::kMaxSites + 2));
}

}  // namespace
