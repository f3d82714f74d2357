package io.polyray.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.polyray.api.exception.CrossLanguageException;
import io.polyray.api.exception.ObjectLostException;
import io.polyray.api.exception.PolyRayException;
import io.polyray.api.exception.TaskException;
import org.junit.jupiter.api.Test;

class ApiTest {
  @Test
  void languagesMatchTheProtocolNumbers() {
    assertEquals(Language.PYTHON, Language.fromNumber(0));
    assertEquals(Language.JAVA, Language.fromNumber(1));
    assertEquals(Language.CPP, Language.fromNumber(2));
    assertEquals(2, Language.CPP.number());
    assertThrows(IllegalArgumentException.class, () -> Language.fromNumber(3));
  }

  @Test
  void exceptionsCarryTheRemoteDetails() {
    byte[] record = {1, 2, 3};
    TaskException inner = new TaskException("ValueError: bad", Language.PYTHON, "ValueError", "tb", null, record);
    CrossLanguageException outer = new CrossLanguageException("x", Language.JAVA, "java.lang.IllegalStateException",
        null, inner, null);
    assertTrue(outer instanceof TaskException);
    assertTrue(outer instanceof RuntimeException);
    assertSame(inner, outer.getCause());
    assertEquals("", outer.getRemoteTraceback());
    assertNull(outer.getErrorRecord());
    assertEquals(Language.PYTHON, inner.getLanguage());
    assertEquals("ValueError", inner.getTypeName());
    byte[] got = inner.getErrorRecord();
    assertArrayEquals(record, got);
    got[0] = 9;
    assertEquals(1, inner.getErrorRecord()[0], "a copy");
    PolyRayException lost = new ObjectLostException("gone");
    assertEquals("gone", lost.getMessage());
  }
}
