// NativeTrainer: the handle of a core train::Trainer. fit() and evaluate() run on a worker thread
// and return Promises; progress events reach JavaScript through the worker's progress queue (a
// thread-safe function), so the event loop keeps running while the model trains.
#include <atomic>
#include <exception>

#include "core/distributed/data_parallel.h"
#include "core/runtime.h"
#include "napi/distributed.h"
#include "napi/convert.h"
#include "napi/errors.h"
#include "napi/json_value.h"
#include "napi/model.h"
#include "napi/tensor.h"
#include "napi/train.h"
#include "napi/train_convert.h"

namespace mtl::napi {

namespace {

// The exception as a TorchError value (its code says what went wrong: busy model, NaN loss, ...).
Napi::Value errorValue(Napi::Env env, std::exception_ptr error) {
  try {
    try {
      std::rethrow_exception(error);
    } catch (const Napi::Error&) {
      throw;
    } catch (...) {
      rethrowAsTorchError(env);
    }
  } catch (const Napi::Error& e) {
    return e.Value();
  }
}

// The state a running job shares with its handle.
struct TrainerCore {
  std::shared_ptr<train::Trainer> trainer;
  ModelLease lease;
  std::atomic<bool> abortRequested{false};
};

// Runs one native job (fit or evaluate) on a worker thread; resolves or rejects its Promise.
template <typename Result>
class TrainingWorker : public Napi::AsyncProgressQueueWorker<train::ProgressEvent> {
 public:
  using Job = std::function<Result(const std::function<void(const train::ProgressEvent&)>&)>;
  using ToValue = std::function<Napi::Value(Napi::Env, const Result&)>;

  TrainingWorker(Napi::Env env, BusyClaim claim, Job job, ToValue toValue, Napi::Function onEvent)
      : Napi::AsyncProgressQueueWorker<train::ProgressEvent>(Napi::Function::New(env, [](const Napi::CallbackInfo&) {})),
        deferred_(Napi::Promise::Deferred::New(env)),
        claim_(std::move(claim)),
        job_(std::move(job)),
        toValue_(std::move(toValue)) {
    if (!onEvent.IsEmpty()) onEvent_ = Napi::Persistent(onEvent);
  }

  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute(const ExecutionProgress& progress) override {
    try {
      adoptThreadSettings();
      result_ = job_([&](const train::ProgressEvent& event) {
        if (!onEvent_.IsEmpty()) progress.Send(&event, 1);
      });
    } catch (...) {
      error_ = std::current_exception();
      SetError("training failed");  // the real error is error_, turned into a TorchError in OnError
    }
  }

  void OnProgress(const train::ProgressEvent* events, size_t count) override {
    Napi::HandleScope scope(Env());
    for (size_t i = 0; i < count; ++i) {
      try {
        onEvent_.Call({eventToObject(Env(), events[i])});
      } catch (const Napi::Error&) {
        // A throwing listener must not take the run down; lib/train reports it on the console.
      }
    }
  }

  void OnOK() override {
    Napi::HandleScope scope(Env());
    claim_.release();
    deferred_.Resolve(toValue_(Env(), result_));
  }

  void OnError(const Napi::Error&) override {
    Napi::HandleScope scope(Env());
    claim_.release();
    deferred_.Reject(errorValue(Env(), error_));
  }

 private:
  Napi::Promise::Deferred deferred_;
  BusyClaim claim_;
  Job job_;
  ToValue toValue_;
  Napi::FunctionReference onEvent_;
  Result result_;
  std::exception_ptr error_;
};

Napi::Value fitResultToValue(Napi::Env env, const train::FitResult& r) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("steps", static_cast<double>(r.steps));
  out.Set("epochs", static_cast<double>(r.epochs));
  out.Set("aborted", r.aborted);
  out.Set("stoppedEarly", r.stoppedEarly);
  Napi::Array epochs = Napi::Array::New(env, r.epochEvents.size());
  for (size_t i = 0; i < r.epochEvents.size(); ++i) epochs.Set(static_cast<uint32_t>(i), eventToObject(env, r.epochEvents[i]));
  out.Set("epochHistory", epochs);
  Napi::Array evals = Napi::Array::New(env, r.evalEvents.size());
  for (size_t i = 0; i < r.evalEvents.size(); ++i) evals.Set(static_cast<uint32_t>(i), eventToObject(env, r.evalEvents[i]));
  out.Set("evalHistory", evals);
  Napi::Array checkpoints = Napi::Array::New(env, r.checkpoints.size());
  for (size_t i = 0; i < r.checkpoints.size(); ++i) checkpoints.Set(static_cast<uint32_t>(i), r.checkpoints[i]);
  out.Set("checkpoints", checkpoints);
  return out;
}

class TrainerHandle : public Napi::ObjectWrap<TrainerHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeTrainer",
                       {
                           InstanceMethod<&TrainerHandle::Fit>("fit"),
                           InstanceMethod<&TrainerHandle::Evaluate>("evaluate"),
                           InstanceMethod<&TrainerHandle::Step>("step"),
                           InstanceMethod<&TrainerHandle::Abort>("abort"),
                           InstanceMethod<&TrainerHandle::SaveCheckpoint>("saveCheckpoint"),
                           InstanceMethod<&TrainerHandle::LoadCheckpoint>("loadCheckpoint"),
                           InstanceMethod<&TrainerHandle::WeightingParameters>("weightingParameters"),
                           InstanceMethod<&TrainerHandle::StepsDone>("stepsDone"),
                       });
  }

  // new NativeTrainer(model, options, processGroup?, config?): with a process group, data parallel;
  // `config` (the model's and the trainer's options as text) must then be the same on every rank.
  explicit TrainerHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TrainerHandle>(info) {
    guard(info.Env(), [&] {
      core_ = std::make_shared<TrainerCore>();
      core_->lease = NativeMultiTaskModel::LeaseOf(info[0], "Trainer: argument 0 (model)");
      const auto options = readOptions<train::TrainerOptions>(jsonOf(info[1], "trainer options"));
      std::shared_ptr<train::GradientSync> sync;
      if (info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsNull()) {
        Args args(info);
        sync = std::make_shared<distributed::DataParallel>(processGroupOf(info[2], "Trainer: 'distributed'"), args.string(3));
      }
      core_->trainer = std::make_shared<train::Trainer>(core_->lease.model, options, sync);
    });
  }

 private:
  // fit(trainSets, evalSets, settings, onEvent?) → Promise<FitResult>
  Napi::Value Fit(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      train::Datasets trainSets = datasetsOf(info[0], "trainSets");
      train::Datasets evalSets = info[1].IsUndefined() ? train::Datasets() : datasetsOf(info[1], "evalSets");
      const auto settings = readOptions<train::FitSettings>(jsonOf(info[2], "fit options"));
      Napi::Function onEvent = info.Length() > 3 && info[3].IsFunction() ? info[3].As<Napi::Function>() : Napi::Function();
      BusyClaim claim(core_->lease.busy);
      core_->abortRequested = false;
      auto core = core_;
      auto* worker = new TrainingWorker<train::FitResult>(
          info.Env(), std::move(claim),
          [core, trainSets, evalSets, settings](const std::function<void(const train::ProgressEvent&)>& emit) {
            return core->trainer->fit(trainSets, evalSets, settings, emit, core->abortRequested);
          },
          fitResultToValue, onEvent);
      worker->Queue();
      return worker->promise();
    });
  }

  // evaluate(evalSets) → Promise<{ task: { metric: value } }>
  Napi::Value Evaluate(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      train::Datasets evalSets = datasetsOf(info[0], "evalSets");
      BusyClaim claim(core_->lease.busy);
      auto core = core_;
      auto* worker = new TrainingWorker<train::Metrics>(
          info.Env(), std::move(claim),
          [core, evalSets](const std::function<void(const train::ProgressEvent&)>&) { return core->trainer->evaluate(evalSets); },
          [](Napi::Env env, const train::Metrics& m) -> Napi::Value { return metricsToObject(env, m); }, Napi::Function());
      worker->Queue();
      return worker->promise();
    });
  }

  // step({ task: batch }) → { losses, lambdas, learningRate, skipped, reason? } (synchronous)
  Napi::Value Step(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      const auto batches = batchesOf(info[0], "step");
      BusyClaim claim(core_->lease.busy);
      const train::StepReport report = core_->trainer->step(batches);
      Napi::Object out = Napi::Object::New(info.Env());
      out.Set("losses", numbersToObject(info.Env(), report.losses));
      out.Set("lambdas", numbersToObject(info.Env(), report.lambdas));
      out.Set("learningRate", report.learningRate);
      out.Set("skipped", report.skipped);
      if (report.skipped) out.Set("reason", report.skippedReason);
      return out;
    });
  }

  Napi::Value Abort(const Napi::CallbackInfo& info) {
    core_->abortRequested = true;
    return info.Env().Undefined();
  }

  Napi::Value SaveCheckpoint(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      Args args(info);
      BusyClaim claim(core_->lease.busy);
      core_->trainer->saveCheckpoint(args.string(0));
      return info.Env().Undefined();
    });
  }

  Napi::Value LoadCheckpoint(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      Args args(info);
      BusyClaim claim(core_->lease.busy);
      core_->trainer->loadCheckpoint(args.string(0));
      return info.Env().Undefined();
    });
  }

  Napi::Value WeightingParameters(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      const auto parameters = core_->trainer->weighting().parameters();
      Napi::Array out = Napi::Array::New(info.Env(), parameters.size());
      for (size_t i = 0; i < parameters.size(); ++i) out.Set(static_cast<uint32_t>(i), TensorHandle::Wrap(info.Env(), parameters[i].detach().clone()));
      return out;
    });
  }

  Napi::Value StepsDone(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(core_->trainer->stepsDone()));
  }

  std::shared_ptr<TrainerCore> core_;
};

}  // namespace

void InitTrainer(Napi::Env env, Napi::Object exports) { exports.Set("NativeTrainer", TrainerHandle::Define(env)); }

}  // namespace mtl::napi
