/* One job: hands out the refusal entry's address (a function pointer is not a symbol Java can type). */
#include "tabguard_native.h"

void *tg_refusal_entry(void) {
    return (void *) tg_refuse;
}
