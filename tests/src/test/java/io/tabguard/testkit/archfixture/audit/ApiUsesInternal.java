package io.tabguard.testkit.archfixture.audit;

import io.tabguard.testkit.archfixture.audit.internal.InternalUsesApi;

/**
 * Allowed: an API package and its own module's internal package may refer to each other (a sealed
 * interface permitting its internal implementation, an internal scanner returning the API's report).
 */
public final class ApiUsesInternal {
    private ApiUsesInternal() {}

    public static Object report() {
        return InternalUsesApi.scan();
    }
}
