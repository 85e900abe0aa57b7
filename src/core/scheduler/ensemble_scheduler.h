// The ensemble scheduler: an ensemble model has no instances; each request
// it accepts runs through the ensemble's steps. A step is a real request to
// its composing model through the server's normal path (that model's own
// scheduler, so the steps of many ensemble requests batch together), sent as
// soon as every ensemble tensor it reads exists: independent steps run in
// parallel. Tensors pass between steps without copies: a step's request
// points into the response that produced them (or into the client's
// request) and keeps it alive.
//
// The ensemble answers once every step has finished: with the outputs the
// client asked for, or with the first step error, naming the step. A
// decoupled step's responses each feed the steps after it; such an ensemble
// is decoupled and answers each complete set of outputs as it appears, then
// an empty final response. Steps that produce nothing the client asked for
// do not run (Triton prunes them too).
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "core/scheduler/ensemble_graph.h"
#include "core/scheduler/scheduler.h"
#include "core/serving_models.h"

namespace inferd {

class EnsembleScheduler : public Scheduler {
 public:
  // `serving` runs the steps; it outlives the ensemble model.
  EnsembleScheduler(std::shared_ptr<const EnsembleGraph> graph, ServingModels* serving);

  // Starts running the request's steps; the ensemble's answer comes later
  // through request->Respond. Refused once stopped.
  Status Enqueue(RequestPtr request) override;
  // An ensemble has no instances to hand batches to.
  bool NextBatch(std::vector<RequestPtr>* batch) override;
  // Refuses new requests; those running finish (their steps run elsewhere).
  void Stop() override;

 private:
  std::shared_ptr<const EnsembleGraph> graph_;
  ServingModels* serving_;
  std::atomic<bool> stopped_{false};
};

}  // namespace inferd
