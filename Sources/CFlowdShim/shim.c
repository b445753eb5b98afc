#include "CFlowdShim.h"
int flowd_shim_placeholder(void) { return 0; }
