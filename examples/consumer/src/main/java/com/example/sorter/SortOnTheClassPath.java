package com.example.sorter;

import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;

import java.util.Arrays;

/**
 * The same sort for an application that must run on the class path and accepts what it loses there
 * (Tabguard's internals are not encapsulated): it opts in, and the registry logs a WARNING.
 */
public class SortOnTheClassPath {
    public static void main(String[] args) throws Throwable {
        try (Registry registry = Registry.open(RegistryOptions.builder().allowClassPath().build())) {
            System.out.println(Arrays.toString(SortWithQsort.sort(registry, 5, 3, 9, 1, 7)));
        }
    }
}
