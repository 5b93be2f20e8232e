#include "gpsx/envs/data_dir.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <vector>

#include "gpsx/envs/model.h"

namespace gpsx::envs {

namespace fs = std::filesystem;

namespace {

// The running program's folder (Linux: /proc/self/exe), empty when unknown.
fs::path exe_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

// The shipped data folder `sub` (models, experiments): $GPSX_DATA_DIR/sub when set, else
// beside the program, else the source tree's folder.
std::string data_dir(const char* sub, const char* source_dir) {
  std::vector<fs::path> tried;
  const char* env = std::getenv("GPSX_DATA_DIR");
  if (env && *env) {
    tried.push_back(fs::path(env) / sub);
  } else {
    const fs::path dir = exe_dir();
    if (!dir.empty()) tried.push_back(dir / ".." / "share" / "gpsx" / sub);
    tried.push_back(source_dir);  // a program in the build tree
  }
  std::error_code ec;
  for (const fs::path& p : tried)
    if (fs::is_directory(p, ec)) {
      const fs::path c = fs::weakly_canonical(p, ec);
      return ec ? p.string() : c.string();
    }
  std::string list;
  for (const fs::path& p : tried) list += " " + p.string();
  throw ModelError(std::string("no gpsx ") + sub + " folder found (GPSX_DATA_DIR " +
                   (env && *env ? "= " + std::string(env) : "unset") + "); tried:" + list);
}

}  // namespace

std::string models_dir() { return data_dir("models", GPSX_SOURCE_MODELS_DIR); }

std::string experiments_dir() { return data_dir("experiments", GPSX_SOURCE_EXPERIMENTS_DIR); }

std::string find_model_file(const std::string& name) {
  const fs::path dir = models_dir();
  const fs::path p = dir / name;
  if (!fs::exists(p)) throw ModelError("no model file " + name + " in " + dir.string());
  return p.string();
}

}  // namespace gpsx::envs
