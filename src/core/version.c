/* eddy's version string. Keep it equal to project(VERSION) in CMakeLists.txt; a build that
 * defines EDDY_VERSION_STRING (e.g. from CMake) overrides it. */
#include "eddy/common.h"

#ifndef EDDY_VERSION_STRING
#define EDDY_VERSION_STRING "0.1.0"
#endif

const char *eddy_version(void)
{
    return EDDY_VERSION_STRING;
}
