package io.tabguard.testkit.archfixture.audit.internal;

import io.tabguard.testkit.archfixture.audit.ApiUsesInternal;

public final class InternalUsesApi {
    private InternalUsesApi() {}

    public static Object scan() {
        return ApiUsesInternal.class;
    }
}
