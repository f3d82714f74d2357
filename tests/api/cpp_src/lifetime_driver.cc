// A C++ driver that owns a Python actor and drops its handles on command
// (tests/api/test_actor_lifetime_cpp.py): copies of a handle share one
// reference; the actor goes when the last copy goes.
//   lifetime_driver <host:port> <code search path dir>
// stdin commands, one per line, each answered with one JSON line:
//   make            create a Target and a Keeper; {"pid": P, "actor_id": hex}
//   drop_copy       drop one of the two copies of the Target's handle
//   give            pass the Target's handle to the Keeper (it keeps it)
//   drop            drop the last copy held here
//   keeper_drop     the Keeper drops what it keeps
#include <polyray/api.h>

#include <cstdint>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: lifetime_driver <host:port> <code search path dir>\n";
    return 2;
  }
  polyray::Config config;
  config.address = argv[1];
  config.code_search_path.push_back(argv[2]);
  polyray::Init(config);
  polyray::ActorHandleXlang target, copy, keeper;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line == "make") {
      target = polyray::Actor(polyray::PyActorClass{"lifetime_mod", "Target"}).Remote();
      copy = target;
      keeper = polyray::Actor(polyray::PyActorClass{"lifetime_mod", "Keeper"}).Remote();
      int64_t pid = *polyray::Get(target.Task(polyray::PyActorMethod<int64_t>{"pid"}).Remote(), 60000);
      std::string id = target.Id();
      std::cout << "{\"pid\": " << pid << ", \"actor_id\": \"" << id << "\"}" << std::endl;
    } else if (line == "drop_copy") {
      copy = polyray::ActorHandleXlang();
      std::cout << "{\"ok\": true}" << std::endl;
    } else if (line == "give") {
      int64_t n = *polyray::Get(keeper.Task(polyray::PyActorMethod<int64_t>{"keep"}).Remote(target), 60000);
      std::cout << "{\"kept\": " << n << "}" << std::endl;
    } else if (line == "drop") {
      target = polyray::ActorHandleXlang();
      std::cout << "{\"ok\": true}" << std::endl;
    } else if (line == "keeper_drop") {
      bool ok = *polyray::Get(keeper.Task(polyray::PyActorMethod<bool>{"drop"}).Remote(), 60000);
      std::cout << "{\"ok\": " << (ok ? "true" : "false") << "}" << std::endl;
    } else {
      break;
    }
  }
  polyray::Shutdown();
  return 0;
}
