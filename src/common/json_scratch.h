// JsonScratch: memory for one JSON document parsed or written on this thread,
// reused from one request to the next instead of taken from the heap.
//
// rapidjson's defaults cost an inference request ten heap blocks: a 64 KiB
// first chunk for the document's values, the parser's and the document's
// stacks growing by doubling, the writer's buffer and its nesting stack. A
// JsonScratch lends this thread's two buffers (values and stacks) to pool
// allocators instead; a document that outgrows them continues in heap chunks
// as before, so size is never limited by them. Only one JsonScratch per thread
// holds the buffers at a time: a second one alive on the same thread (none on
// the request path today) gets plain heap-backed pools. Header-only, like
// json_parse.h.
#pragma once

#include <rapidjson/allocators.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <memory>
#include <optional>

namespace inferd {

class JsonScratch {
 public:
  using Pool = rapidjson::MemoryPoolAllocator<>;
  // A document whose values and build stack are both in the scratch pools.
  using Document = rapidjson::GenericDocument<rapidjson::UTF8<>, Pool, Pool>;
  // Reading: Document doc(&scratch.values(), kDocumentStackBytes, &scratch.stack()),
  // then ParseJson(text, &doc, &error, kMaxJsonDepth, &scratch.stack()).
  // Writing: a StringBuffer and a Writer whose stack is the scratch's.
  using StringBuffer = rapidjson::GenericStringBuffer<rapidjson::UTF8<>, Pool>;
  template <unsigned kWriteFlags = rapidjson::kWriteDefaultFlags>
  using Writer = rapidjson::Writer<StringBuffer, rapidjson::UTF8<>, rapidjson::UTF8<>, Pool, kWriteFlags>;

  // Enough for the JSON of a typical request or response with binary tensors
  // or small JSON ones; larger documents spill into heap chunks.
  static constexpr size_t kValueBytes = 16 * 1024;
  static constexpr size_t kStackBytes = 8 * 1024;
  // A document's build stack starts this big (rapidjson's own default).
  static constexpr size_t kDocumentStackBytes = 1024;

  JsonScratch() {
    ThreadBuffers& tb = Buffers();
    if (!tb.busy) {
      tb.busy = true;
      holds_thread_buffers_ = true;
      if (!tb.values) {  // once per thread
        tb.values = std::make_unique<char[]>(kValueBytes);
        tb.stack = std::make_unique<char[]>(kStackBytes);
      }
      values_.emplace(tb.values.get(), kValueBytes);
      stack_.emplace(tb.stack.get(), kStackBytes);
    } else {
      values_.emplace();
      stack_.emplace();
    }
  }
  ~JsonScratch() {
    // The pools free their heap chunks; the thread's buffers stay for the next.
    values_.reset();
    stack_.reset();
    if (holds_thread_buffers_) Buffers().busy = false;
  }
  JsonScratch(const JsonScratch&) = delete;
  JsonScratch& operator=(const JsonScratch&) = delete;

  // Values of a document, or a StringBuffer's characters.
  Pool& values() { return *values_; }
  // Parser, document and writer stacks.
  Pool& stack() { return *stack_; }

 private:
  struct ThreadBuffers {
    std::unique_ptr<char[]> values;
    std::unique_ptr<char[]> stack;
    bool busy = false;
  };
  static ThreadBuffers& Buffers() {
    thread_local ThreadBuffers buffers;
    return buffers;
  }

  bool holds_thread_buffers_ = false;
  std::optional<Pool> values_;
  std::optional<Pool> stack_;
};

}  // namespace inferd
