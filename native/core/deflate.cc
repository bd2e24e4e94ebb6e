#include "deflate.h"

#include <stdexcept>

namespace fastlayer {

std::unique_ptr<Deflater> NewDeflater(int level) {
  if (level == 0) return NewStoredDeflater();
  if (level >= 1 && level <= 2) return NewIsalDeflater(level);
  if (level >= 3 && level <= 9) return NewZlibDeflater(level);
  throw std::invalid_argument("fastlayer: compression level must be an integer from 0 to 9");
}

}  // namespace fastlayer
