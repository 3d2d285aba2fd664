/**
 * A miniature Tabguard whose classes break each architecture rule on purpose, next to the classes the
 * rules allow: {@code ArchitectureTest} proves with it that every rule can fail, and fails for the
 * right class. Never executed, only read as class files by ArchUnit.
 */
package io.tabguard.testkit.archfixture;
