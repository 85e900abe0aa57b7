// The ABI's opaque handle types, defined for the core only: each handle is a
// base of the core class it stands for (Model, ModelInstance, ...), so a
// handle converts to its object with a static_cast and costs nothing.
#pragma once

#include <string>

#include "inferd/backend.h"

struct InferdModel {};
struct InferdInstance {};
struct InferdRequest {};
struct InferdResponse {};
struct InferdError {
  InferdErrorCode code;
  std::string message;
};
