package io.polyray.api;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The concurrency group a Java actor method's calls run in by default (Ray's
 * {@code @ray.method(concurrency_group="io")}): {@code @ConcurrencyGroup("io") public byte[] read()}.
 * The actor must declare the group at its creation ({@code ActorCreator.setConcurrencyGroups},
 * Python's {@code concurrency_groups=}, C++'s {@code SetConcurrencyGroups}); a method naming a
 * group the actor does not declare makes the creation fail with an error naming both. The
 * worker applies it to every call that names no group, whatever the caller's language; a
 * call's own group ({@code setConcurrencyGroup}, {@code .options(concurrency_group=)})
 * overrides it. Put it on a public method of the actor's class or of a superclass (an
 * annotation on an interface method is not seen).
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
public @interface ConcurrencyGroup {
  /**
   * The group's name, one of the actor's {@code concurrency_groups}.
   *
   * @return the name (not empty)
   */
  String value();
}
