package io.polyray.runtime.codec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import io.polyray.api.Language;
import io.polyray.runtime.proto.ActorHandle;
import io.polyray.runtime.proto.Envelope;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.Format;
import io.polyray.runtime.proto.ObjectRef;
import io.polyray.runtime.ref.AbstractActorHandle;
import io.polyray.runtime.ref.Hex;
import io.polyray.runtime.ref.ObjectRefImpl;
import io.polyray.runtime.ref.RefHooks;
import java.io.IOException;
import java.lang.reflect.Array;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The shared test vectors (proto/vectors, docs/protocol.md §12): every vector decodes to
 * its manifest's expected value, and the expected value re-encodes to the file's bytes.
 */
class VectorsTest {
  static final Path VECTORS = Paths.get(System.getProperty("polyray.root", "../.."), "proto", "vectors");

  static JsonObject manifest() throws IOException {
    return JsonParser.parseString(Files.readString(VECTORS.resolve("manifest.json"))).getAsJsonObject();
  }

  @Test
  void manifestCoversEveryFile() throws IOException {
    JsonObject m = manifest();
    assertEquals(1, m.get("version").getAsInt());
    List<String> files = new ArrayList<>();
    for (JsonElement v : m.getAsJsonArray("vectors")) {
      files.add(v.getAsJsonObject().get("file").getAsString());
    }
    try (Stream<Path> s = Files.list(VECTORS)) {
      s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".bin"))
          .forEach(n -> assertTrue(files.contains(n), n + " is not in the manifest"));
    }
    assertTrue(files.size() >= 60, "only " + files.size() + " vectors");
  }

  @TestFactory
  Stream<DynamicTest> vectors() throws IOException {
    List<DynamicTest> tests = new ArrayList<>();
    for (JsonElement e : manifest().getAsJsonArray("vectors")) {
      JsonObject v = e.getAsJsonObject();
      tests.add(DynamicTest.dynamicTest(v.get("name").getAsString(), () -> check(v)));
    }
    return tests.stream();
  }

  private static void check(JsonObject v) throws Exception {
    byte[] file = Files.readAllBytes(VECTORS.resolve(v.get("file").getAsString()));
    Envelope env = Envelope.parseFrom(file);
    String format = v.get("format").getAsString();
    assertEquals("FORMAT_" + format, env.getFormat().name());
    int threshold = v.has("oob_threshold") ? v.get("oob_threshold").getAsInt() : Codec.DEFAULT_OOB_THRESHOLD;
    Codec codec = new Codec(RefHooks.INSTANCE, threshold);
    JsonObject expected = v.getAsJsonObject("expected");
    Object decoded = codec.decode(env);

    Encoded again;
    switch (format) {
      case "XLANG": {
        Object want = value(expected);
        assertDeepEquals(want, decoded, "$");
        again = codec.encode(want);
        break;
      }
      case "RAW": {
        byte[] want = Hex.parse(expected.get("raw").getAsString());
        assertArrayEquals(want, (byte[]) decoded);
        again = Codec.encodeRaw(want);
        break;
      }
      case "ERROR": {
        ErrorRecord want = parse(expected.get("error"), ErrorRecord.newBuilder());
        assertEquals(want, decoded);
        again = Codec.encodeError(want);
        break;
      }
      case "ARROW": {
        // No Arrow reader in Java yet: the holder keeps the IPC stream intact. It starts
        // with the IPC continuation marker and names every column.
        ArrowIpc ipc = assertInstanceOf(ArrowIpc.class, decoded);
        byte[] bytes = ipc.toByteArray();
        assertArrayEquals(env.getBody().toByteArray(), bytes);
        assertEquals(-1, ByteBuffer.wrap(bytes).getInt(0), "IPC continuation marker");
        String text = new String(bytes, StandardCharsets.ISO_8859_1);
        for (JsonElement c : expected.getAsJsonObject("arrow").getAsJsonArray("columns")) {
          assertTrue(text.contains(c.getAsJsonObject().get("name").getAsString()));
        }
        again = codec.encode(ipc);
        break;
      }
      default:
        throw new AssertionError("unknown format " + format);
    }
    if (v.get("byte_exact").getAsBoolean()) {
      assertArrayEquals(file, deterministic(again.toEnvelope()),
          "re-encoded bytes differ: " + Hex.of(deterministic(again.toEnvelope())) + " vs " + Hex.of(file));
    } else {
      assertEquals(env.getBody(), again.toEnvelope().getBody());
    }
  }

  static byte[] deterministic(Message m) throws IOException {
    byte[] b = new byte[m.getSerializedSize()];
    CodedOutputStream c = CodedOutputStream.newInstance(b);
    c.useDeterministicSerialization();
    m.writeTo(c);
    return b;
  }

  @SuppressWarnings("unchecked")
  static <M extends Message> M parse(JsonElement json, Message.Builder b) throws IOException {
    JsonFormat.parser().merge(json.toString(), b);
    return (M) b.build();
  }

  /** The Java value a tagged manifest value decodes to (and re-encodes from). */
  static Object value(JsonObject tagged) throws IOException {
    String tag = tagged.keySet().iterator().next();
    JsonElement x = tagged.get(tag);
    switch (tag) {
      case "nil":
        return null;
      case "bool":
        return x.getAsBoolean();
      case "int": {
        BigInteger b = x.getAsBigInteger();
        return b.bitLength() <= 63 ? (Object) b.longValue() : b;
      }
      case "float":
        return Double.parseDouble(x.getAsString());
      case "str":
        return x.getAsString();
      case "bin":
        return Hex.parse(x.getAsString());
      case "array": {
        List<Object> out = new ArrayList<>();
        for (JsonElement e : x.getAsJsonArray()) {
          out.add(value(e.getAsJsonObject()));
        }
        return out;
      }
      case "map": {
        Map<Object, Object> out = new LinkedHashMap<>();
        for (JsonElement e : x.getAsJsonArray()) {
          JsonArray kv = e.getAsJsonArray();
          out.put(value(kv.get(0).getAsJsonObject()), value(kv.get(1).getAsJsonObject()));
        }
        return out;
      }
      case "ndarray": {
        JsonObject a = x.getAsJsonObject();
        DType dt = DType.fromTypestr(a.get("dtype").getAsString());
        JsonArray s = a.getAsJsonArray("shape");
        long[] shape = new long[s.size()];
        for (int i = 0; i < shape.length; i++) {
          shape[i] = s.get(i).getAsLong();
        }
        NdArray nd = NdArray.of(dt, shape, Hex.parse(a.get("data").getAsString()));
        return shape.length == 1 && XlangDecoder.hasPrimitiveForm(dt) ? nd.toPrimitiveArray() : nd;
      }
      case "ref":
        return new ObjectRefImpl<Object>(parse(x, ObjectRef.newBuilder()));
      case "actor":
        return AbstractActorHandle.of(parse(x, ActorHandle.newBuilder()));
      case "native": {
        JsonObject n = x.getAsJsonObject();
        return new NativeValue(Language.valueOf(n.get("language").getAsString()), Hex.parse(n.get("data").getAsString()));
      }
      default:
        throw new AssertionError("unknown tag " + tag);
    }
  }

  /** Equality of decoded values: arrays by content, doubles by bits, maps in order. */
  static void assertDeepEquals(Object want, Object got, String path) {
    if (want == null || got == null) {
      assertEquals(want, got, path);
      return;
    }
    if (want instanceof Double) {
      assertInstanceOf(Double.class, got, path);
      assertEquals(Double.doubleToRawLongBits((Double) want), Double.doubleToRawLongBits((Double) got), path);
      return;
    }
    if (want.getClass().isArray()) {
      assertEquals(want.getClass(), got.getClass(), path);
      int n = Array.getLength(want);
      assertEquals(n, Array.getLength(got), path);
      for (int i = 0; i < n; i++) {
        assertDeepEquals(Array.get(want, i), Array.get(got, i), path + "[" + i + "]");
      }
      return;
    }
    if (want instanceof List) {
      List<?> w = (List<?>) want;
      List<?> g = assertInstanceOf(List.class, got, path);
      assertEquals(w.size(), g.size(), path);
      for (int i = 0; i < w.size(); i++) {
        assertDeepEquals(w.get(i), g.get(i), path + "[" + i + "]");
      }
      return;
    }
    if (want instanceof Map) {
      Map<?, ?> w = (Map<?, ?>) want;
      Map<?, ?> g = assertInstanceOf(LinkedHashMap.class, got, path);
      assertEquals(w.size(), g.size(), path);
      Iterator<? extends Map.Entry<?, ?>> gi = g.entrySet().iterator();
      for (Map.Entry<?, ?> we : w.entrySet()) {
        Map.Entry<?, ?> ge = gi.next();
        assertDeepEquals(we.getKey(), ge.getKey(), path + "<key>");
        assertDeepEquals(we.getValue(), ge.getValue(), path + "[" + we.getKey() + "]");
      }
      return;
    }
    if (want instanceof ObjectRefImpl) {
      assertEquals(((ObjectRefImpl<?>) want).toProto(), assertInstanceOf(ObjectRefImpl.class, got, path).toProto(), path);
      return;
    }
    if (want instanceof AbstractActorHandle) {
      assertEquals(want.getClass(), got.getClass(), path);
      assertEquals(((AbstractActorHandle) want).toProto(), ((AbstractActorHandle) got).toProto(), path);
      return;
    }
    assertEquals(want.getClass(), got.getClass(), path);
    assertEquals(want, got, path);
    if (want instanceof NdArray) {
      assertFalse(((NdArray) got).data().hasArray() && !((NdArray) got).data().isReadOnly(), "read-only");
    }
  }

  @Test
  void unknownTagFails() {
    try {
      value(JsonParser.parseString("{\"nope\": 1}").getAsJsonObject());
      fail();
    } catch (AssertionError | IOException e) {
      assertTrue(e.getMessage().contains("nope"));
    }
  }
}
