// Where the shipped models and task files (and experiment configs) are. An installed gpsx finds them beside its
// program, <exe dir>/../share/gpsx/models; a program in the build tree finds the source
// tree's envs/models. The environment variable GPSX_DATA_DIR overrides both (its
// models/ folder is used). Experiment configs are found the same way in experiments/
// (share/gpsx/experiments, the source tree's envs/experiments).
#pragma once

#include <string>

namespace gpsx::envs {

// The models folder, tried in this order: $GPSX_DATA_DIR/models (when set, the only
// candidate), <exe dir>/../share/gpsx/models, the source tree's envs/models. Throws
// ModelError listing the paths tried when none exists.
std::string models_dir();

// The experiments folder, searched like models_dir (experiments/ instead of models/).
std::string experiments_dir();

// models_dir()/name; throws ModelError naming the file and the folder when absent.
std::string find_model_file(const std::string& name);

}  // namespace gpsx::envs
