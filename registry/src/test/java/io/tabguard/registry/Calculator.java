package io.tabguard.registry;

import java.lang.foreign.MemorySegment;

@CallbackSchema(name = "tabguard.test.calculator", major = 2)
public interface Calculator {
    @CallbackSlot(order = 0, refusal = "-1")
    int add(int a, int b);

    @CallbackSlot(order = 1, refusal = "0x7fffffffffffffff")
    long twice(long x);

    @CallbackSlot(order = 2, since = 1)
    MemorySegment identity(MemorySegment p);

    @CallbackSlot(order = 3, since = 1)
    void touch();
}
