/* One job: hands out the refusal entries' addresses (a function pointer is not a symbol Java can type). */
#include "tabguard_native.h"

void *tg_refusal_entry(void) {
    return (void *) tg_refuse;
}

void *tg_context_refusal_entry(void) {
    return (void *) tg_refuse_context;
}
