package io.polyray.runtime.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** POLYRAY_SPIN_US as the Java worker reads it (the same rules as Python's spin_selector). */
class SpinTest {
  @Test
  void unsetOrEmptyMeansTheDefault() {
    assertEquals(300, Spin.parse(null));
    assertEquals(300, Spin.parse(""));
  }

  @Test
  void aWholeNumberOfMicroseconds() {
    assertEquals(0, Spin.parse("0"));
    assertEquals(150, Spin.parse("150"));
  }

  @Test
  void badValuesNameTheVariableAndTheValue() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Spin.parse("fast"));
    assertTrue(e.getMessage().contains("POLYRAY_SPIN_US") && e.getMessage().contains("'fast'"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Spin.parse("-5"));
    assertTrue(e.getMessage().contains("must not be negative"), e.getMessage());
  }
}
