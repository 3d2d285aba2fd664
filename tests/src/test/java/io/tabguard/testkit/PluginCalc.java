package io.tabguard.testkit;

import io.tabguard.registry.CallbackSchema;
import io.tabguard.registry.CallbackSlot;

/** {@link PluginTest}'s plugin schema as a typed interface, for calling a C plugin's table through a proxy. */
@CallbackSchema(name = "tabguard.test.plugin", major = 1)
public interface PluginCalc {
    @CallbackSlot(order = 0, refusal = "-1")
    int add(int a, int b);

    @CallbackSlot(order = 1, refusal = "-1")
    int mul(int a, int b);

    @CallbackSlot(order = 2, since = 1, refusal = "-1")
    int neg(int a);
}
