package io.polyray.api;

/**
 * What every actor handle has, whatever the actor's language: its ID and language.
 * Handles may be passed to tasks and returned from them, and stay usable in every
 * language.
 */
public interface BaseActorHandle {
  /**
   * The actor's ID: 16 bytes (12 unique bytes and the job ID).
   *
   * @return a copy of the ID bytes
   */
  byte[] getActorId();

  /**
   * The actor's ID in lower-case hex.
   *
   * @return 32 hex digits
   */
  String getActorIdHex();

  /**
   * The language the actor is written in.
   *
   * @return the actor's language
   */
  Language getLanguage();
}
