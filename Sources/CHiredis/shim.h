#ifndef USER_RPC_CHIREDIS_SHIM_H
#define USER_RPC_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>
#endif
