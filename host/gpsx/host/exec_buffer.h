// Transitional name: ExecBuffer is the owning Buffer (buffer.h).
#pragma once

#include "gpsx/host/buffer.h"

namespace gpsx {
template <class T>
using ExecBuffer = Buffer<T>;
}  // namespace gpsx
