/* An out-of-tree inferd backend, written in C against the installed
 * <inferd/backend.h> and built with find_package(inferd) (CMakeLists.txt
 * beside this file): every FP32 input INPUTn is answered with OUTPUTn = -INPUTn,
 * same shape. The server has already checked each request against the model's
 * config (names, datatypes, shapes, byte sizes), so the backend only reads
 * and writes. The template for a backend of your own. */
#include <inferd/backend.h>

#include <stdio.h>
#include <string.h>

static const InferdCoreApi* api = NULL;

INFERD_EXPORT uint32_t InferdBackendApiVersion(void) { return INFERD_BACKEND_API_VERSION; }

INFERD_EXPORT InferdError* InferdBackendInitialize(const InferdCoreApi* core) {
  api = core;
  return NULL;
}

/* Is `name` among the outputs the request asked for? */
static int Wanted(InferdRequest* request, const char* name) {
  for (uint32_t o = 0; o < api->RequestOutputCount(request); ++o) {
    if (strcmp(api->RequestOutputName(request, o), name) == 0) return 1;
  }
  return 0;
}

/* Writes OUTPUTn = -INPUTn for input `index` into `response`. */
static InferdError* Negate(InferdRequest* request, uint32_t index, InferdResponse* response) {
  const char* name;
  InferdDataType type;
  const int64_t* shape;
  uint32_t dims;
  uint64_t size;
  InferdError* e = api->RequestInput(request, index, &name, &type, &shape, &dims, &size);
  if (e != NULL) return e;
  if (type != INFERD_TYPE_FP32 || strncmp(name, "INPUT", 5) != 0) {
    char message[160];
    snprintf(message, sizeof message, "negate: input '%.64s' must be FP32 and named INPUTn", name);
    return api->ErrorNew(INFERD_ERROR_INVALID_ARG, message);
  }
  char output_name[80];
  snprintf(output_name, sizeof output_name, "OUTPUT%.64s", name + 5);
  if (!Wanted(request, output_name)) return NULL;
  void* out;
  e = api->ResponseOutput(response, output_name, type, shape, dims, size, &out);
  if (e != NULL) return e;
  float* dst = (float*)out;
  uint32_t buffers = 0;
  e = api->RequestInputBufferCount(request, index, &buffers);
  for (uint32_t b = 0; e == NULL && b < buffers; ++b) {
    const void* data;
    uint64_t n;
    e = api->RequestInputBuffer(request, index, b, &data, &n);
    if (e != NULL) break;
    const float* src = (const float*)data;
    for (uint64_t i = 0; i < n / sizeof(float); ++i) *dst++ = -src[i];
  }
  return e;
}

INFERD_EXPORT InferdError* InferdInstanceExecute(InferdInstance* instance, InferdRequest** requests,
                                                 uint32_t count) {
  (void)instance;
  for (uint32_t r = 0; r < count; ++r) {
    InferdResponse* response;
    InferdError* e = api->ResponseNew(requests[r], &response);
    if (e != NULL) {
      api->ErrorDelete(api->RequestRespondError(requests[r], e));
      continue;
    }
    for (uint32_t i = 0; e == NULL && i < api->RequestInputCount(requests[r]); ++i) {
      e = Negate(requests[r], i, response);
    }
    /* With an error the response is sent as that error. */
    api->ErrorDelete(api->ResponseSend(response, INFERD_RESPONSE_FINAL, e));
  }
  return NULL;
}
