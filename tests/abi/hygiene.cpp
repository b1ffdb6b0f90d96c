// C++ twin of hygiene.c: the same header configurations, compiled as
// C++20 with -Wall -Wextra -Werror -pedantic.
#include "hygiene.c"
