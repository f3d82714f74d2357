// A C++ driver calling generator tasks (tests/api/test_cpp_generators.py):
// Python generator functions and methods, C++ generators (this program links
// generator_funcs.cc, so Task(f) knows them; its workers load the library),
// an error in the middle, an early destroy, a bounded Next, bad calls.
//   generator_driver <host:port> <generator_funcs library> <python module dir> <scratch dir> <node store name>
// Prints one JSON line of what it saw.
#include <polyray/api.h>
#include <polyray/store.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/stat.h>

void CountUp(polyray::Yield<int64_t>& yield, int64_t n);
void Gated(polyray::Yield<std::string>& yield, std::string gate);
void FailsAfter(polyray::Yield<int64_t>& yield, int64_t n);
void BigItems(polyray::Yield<std::vector<uint8_t>>& yield, int64_t n, int64_t size);
class Streamer {
 public:
  static Streamer* Create(int64_t base);
  void Range(polyray::Yield<int64_t>& yield, int64_t n);
};

namespace {

std::map<std::string, std::string> out;

std::string Quote(const std::string& s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') q.push_back('\\');
    if (c == '\n') {
      q += "\\n";
      continue;
    }
    if (static_cast<unsigned char>(c) < 0x20) {  // a Java stack trace's tabs: JSON escapes control characters
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", c);
      q += esc;
      continue;
    }
    q.push_back(c);
  }
  return q + "\"";
}

template <typename T>
std::string List(const std::vector<T>& v) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < v.size(); ++i) s << (i ? ", " : "") << v[i];
  s << "]";
  return s.str();
}

void Touch(const std::string& path) { std::ofstream(path) << "open\n"; }

// Whether the generator's end is not ready yet (it still runs).
template <typename T>
bool StillRunning(const polyray::ObjectRefGenerator<T>& gen) {
  std::vector<polyray::ObjectRef<int64_t>> end{gen.Completed()};
  return polyray::Wait(end, 1, 0).ready.empty();
}

// Every item's value, then the error message of a failing last ref ("" if none).
template <typename T>
std::vector<T> Drain(polyray::ObjectRefGenerator<T>& gen, std::string* error) {
  std::vector<T> values;
  for (polyray::ObjectRef<T> ref : gen) {
    try {
      values.push_back(*polyray::Get(ref, 60000));
    } catch (const polyray::Error& e) {
      *error = e.what();
    }
  }
  return values;
}

template <typename F>
std::string Throws(F f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 7) {
    std::cerr << "usage: generator_driver <host:port> <library> <python module dir> <scratch dir> <store> <java dir>\n";
    return 2;
  }
  polyray::Config config;
  config.address = argv[1];
  config.code_search_path = {argv[2], argv[3], argv[6]};  // argv[6]: the compiled Java generators
  polyray::Init(config);
  const std::string scratch = argv[4];
  try {
    // A Python generator: item 0 is read while the generator waits on a file it does not create.
    {
      std::string gate = scratch + "/py_gate";
      auto gen = polyray::Task(polyray::PyFunction<int64_t>{"gen_mod", "gated"}).RemoteGenerator(gate, int64_t{3});
      std::optional<polyray::ObjectRef<int64_t>> first = gen.Next(60000);
      out["py_first"] = std::to_string(first ? *polyray::Get(*first, 60000) : -1);
      out["py_blocked"] = StillRunning(gen) ? "true" : "false";
      out["py_timeout"] = Quote(Throws([&] { gen.Next(50); }));  // the gate is shut: bounded
      Touch(gate);
      std::string error;
      out["py_rest"] = List(Drain(gen, &error));
      out["py_count"] = std::to_string(*polyray::Get(gen.Completed(), 60000));
      out["py_taken"] = std::to_string(gen.Taken());
    }
    {  // an error in the middle of a Python generator
      auto gen = polyray::Task(polyray::PyFunction<int64_t>{"gen_mod", "fails_after"}).RemoteGenerator(int64_t{2});
      std::string error;
      out["py_err_items"] = List(Drain(gen, &error));
      out["py_err"] = Quote(error);
      out["py_err_end"] = gen.Next().has_value() ? "false" : "true";
    }
    {  // a Python actor's generator method
      auto actor = polyray::Actor(polyray::PyActorClass{"gen_mod", "Gen"}).Remote();
      auto gen = actor.Task(polyray::PyActorMethod<int64_t>{"count"}).RemoteGenerator(int64_t{3});
      std::string error;
      out["py_actor"] = List(Drain(gen, &error));
    }
    // A C++ generator registered here: Task(f).Remote() streams.
    {
      std::string gate = scratch + "/cpp_gate";
      polyray::ObjectRefGenerator<std::string> gen = polyray::Task(Gated).Remote(gate);
      auto first = gen.Next(60000);
      out["cpp_first"] = Quote(first ? *polyray::Get(*first, 60000) : std::string("none"));
      out["cpp_blocked"] = StillRunning(gen) ? "true" : "false";
      Touch(gate);
      auto second = gen.Next(60000);
      out["cpp_second"] = Quote(second ? *polyray::Get(*second, 60000) : std::string("none"));
      out["cpp_end"] = gen.Next(60000).has_value() ? "false" : "true";
      out["cpp_count"] = std::to_string(*polyray::Get(gen.Completed(), 60000));
    }
    {  // by name, range-for
      auto gen = polyray::Task(polyray::CppFunction<int64_t>{"CountUp"}).RemoteGenerator(int64_t{4});
      std::vector<int64_t> seen;
      for (polyray::ObjectRef<int64_t> ref : gen) seen.push_back(*polyray::Get(ref, 60000));
      out["cpp_by_name"] = List(seen);
    }
    {  // a Java generator (tests/api/java_gen_src gens.Gens.count: 0, 10, 20, ...; throws at item failAt)
      polyray::JavaFunction<int64_t> count{"gens.Gens", "count"};
      auto gen = polyray::Task(count).RemoteGenerator(int64_t{3}, std::string(), int64_t{-1});
      std::string error;
      out["java_items"] = List(Drain(gen, &error));
      out["java_count"] = std::to_string(*polyray::Get(gen.Completed(), 60000));
      auto bad = polyray::Task(count).RemoteGenerator(int64_t{5}, std::string(), int64_t{2});
      std::string bad_error;
      out["java_err_items"] = List(Drain(bad, &bad_error));
      out["java_err"] = Quote(bad_error);
      // A Java actor's method returning a List (gens.Gens$Source.items: "item0", "item1").
      auto source = polyray::Actor(polyray::JavaActorClass{"gens.Gens$Source"}).Remote();
      auto words = source.Task(polyray::JavaActorMethod<std::string>{"items"}).RemoteGenerator(int64_t{2});
      std::string words_error;
      std::string joined;
      for (const std::string& w : Drain(words, &words_error)) joined += (joined.empty() ? "" : ",") + w;
      out["java_actor"] = Quote(joined + words_error);
    }
    // A C++ caller's generator call whose worker is SIGKILLed before item 3 (issue 17): with
    // max_retries 1 the retry yields from item 0 and the repeats are dropped; with 0 the crash
    // comes at its place. "size:first byte" per item, "E:<message>" for an item whose Get throws.
    for (int retries : {1, 0}) {
      const std::string marks = scratch + "/retry" + std::to_string(retries);
      ::mkdir(marks.c_str(), 0755);
      auto gen = polyray::Task(polyray::CppFunction<std::vector<uint8_t>>{"Paced"})
                     .SetMaxRetries(retries)
                     .RemoteGenerator(int64_t{5}, int64_t{3}, marks, int64_t{200 * 1024});
      std::string pid;
      for (int waited = 0; pid.empty() && waited < 30000; waited += 20) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        std::ifstream(marks + "/waiting") >> pid;
      }
      if (!pid.empty()) ::kill(static_cast<pid_t>(std::stol(pid)), SIGKILL);
      std::vector<std::string> seen;
      for (polyray::ObjectRef<std::vector<uint8_t>> ref : gen) {
        try {
          auto v = polyray::Get(ref, 60000);
          seen.push_back(std::to_string(v->size()) + ":" + std::to_string(static_cast<int>((*v)[0])));
        } catch (const polyray::Error& e) {
          seen.push_back(std::string("E:") + e.what());
        }
      }
      std::string attempts, line;
      for (std::ifstream in(marks + "/attempts"); std::getline(in, line);) attempts += "x";
      std::string key = "retry" + std::to_string(retries);
      out[key] = Quote([&] {
        std::string all;
        for (const std::string& s : seen) all += (all.empty() ? "" : ",") + s;
        return all;
      }());
      out[key + "_attempts"] = std::to_string(attempts.size());
    }
    {  // an error in the middle of a C++ generator
      auto gen = polyray::Task(FailsAfter).Remote(int64_t{2});
      std::string error;
      out["cpp_err_items"] = List(Drain(gen, &error));
      out["cpp_err"] = Quote(error);
    }
    {  // a C++ actor's generator method, typed and by name
      auto actor = polyray::Actor(Streamer::Create).Remote(int64_t{100});
      auto gen = actor.Task(&Streamer::Range).Remote(int64_t{3});
      std::string error;
      out["cpp_actor"] = List(Drain(gen, &error));
      auto xactor = polyray::Actor(polyray::CppActorClass{"Streamer::Create", "Streamer"}).Remote(int64_t{7});
      auto xgen = xactor.Task(polyray::CppActorMethod<int64_t>{"Streamer::Range"}).RemoteGenerator(int64_t{2});
      out["cpp_actor_by_name"] = List(Drain(xgen, &error));
    }
    {  // early destroy: one large item taken, the rest released; the runtime goes on
      const int64_t size = 2 << 20;
      int64_t first_size = -1, first_byte = -1;
      polyray::Store store = polyray::Store::Open(argv[5]);
      std::vector<polyray::ObjectId> rest;  // items 1..3: in the store, held by the stream only
      auto in_store = [&] {
        int n = 0;
        for (const auto& id : rest) n += store.Contains(id) ? 1 : 0;
        return n;
      };
      {
        auto gen = polyray::Task(BigItems).Remote(int64_t{4}, size);
        auto first = gen.Next(60000);
        auto v = polyray::Get(*first, 60000);
        first_size = static_cast<int64_t>(v->size());
        first_byte = (*v)[0];
        out["early_count"] = std::to_string(*polyray::Get(gen.Completed(), 60000));  // every item arrived
        std::string task = gen.Completed().Id().substr(0, 48);
        for (int k = 1; k < 4; ++k) {
          char index[9];
          std::snprintf(index, sizeof index, "%02x000000", k + 2);  // ReturnId(task, k + 2), little-endian
          rest.push_back(polyray::ObjectId::FromHex(task + index));
        }
        out["early_held"] = std::to_string(in_store());
      }
      int left = in_store();
      for (int waited = 0; left > 0 && waited < 10000; waited += 20) {  // frees are batched: bounded wait
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        left = in_store();
      }
      out["early_left"] = std::to_string(left);
      out["early_first"] = "[" + std::to_string(first_size) + ", " + std::to_string(first_byte) + "]";
      auto again = polyray::Task(CountUp).Remote(int64_t{2});
      std::string error;
      out["after_early"] = List(Drain(again, &error));
    }
    // Bad calls.
    {
      auto gen = polyray::Task(polyray::CppFunction<int64_t>{"Plain"}).RemoteGenerator(int64_t{1});
      std::string error;
      Drain(gen, &error);
      out["not_a_generator"] = Quote(error);
      out["generator_as_plain"] = Quote(Throws([] {
        polyray::Get(polyray::Task(polyray::CppFunction<int64_t>{"CountUp"}).Remote(int64_t{1}), 60000);
      }));
      out["py_generator_as_plain"] = Quote(Throws([] {
        polyray::Get(polyray::Task(polyray::PyFunction<int64_t>{"gen_mod", "fails_after"}).Remote(int64_t{1}), 60000);
      }));
      out["multi_refused"] = Quote(Throws([] {
        polyray::Task(polyray::PyFunction<int64_t>{"gen_mod", "gated"}).SetNumReturns(2).RemoteGenerator();
      }));
    }
  } catch (const std::exception& e) {
    out["fatal"] = Quote(e.what());
  }
  std::string line = "{";
  for (const auto& [k, v] : out) line += (line.size() > 1 ? ", " : "") + Quote(k) + ": " + v;
  std::cout << line << "}" << std::endl;
  polyray::Shutdown();
  return 0;
}
