// NativeTrainer: the handle of a core train::Trainer. fit() and evaluate() run on a thread of their
// own (NativeJob) and return Promises; progress events reach JavaScript through a thread-safe
// function, so the event loop keeps running while the model trains, and the job stops when its
// environment or the process goes away.
#include <atomic>
#include <cstdlib>
#include <exception>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "core/distributed/data_parallel.h"
#include "core/runtime.h"
#include "napi/convert.h"
#include "napi/distributed.h"
#include "napi/errors.h"
#include "napi/json_value.h"
#include "napi/model.h"
#include "napi/tensor.h"
#include "napi/train.h"
#include "napi/train_convert.h"

namespace mtl::napi {

namespace {

// The state a running job shares with its handle.
struct TrainerCore {
  std::shared_ptr<train::Trainer> trainer;
  ModelLease lease;
  std::shared_ptr<std::atomic<bool>> abortRequested = std::make_shared<std::atomic<bool>>(false);
};

// One native job (fit or evaluate) on a thread of its own, so that a long run never holds a libuv
// pool thread (with the default pool of 4, a fifth job would starve fs and crypto) and so that the
// process can end it: progress and completion reach JavaScript through a thread-safe function; an
// environment cleanup hook (worker.terminate(), the environment being torn down) and an atexit
// handler (process.exit(), an uncaught exception, a signal handler that exits) set the job's abort
// flag, which the loop reads before every step, and wait for the thread. A job never blocks on the
// JavaScript thread (the queue is unbounded), so waiting for it always ends.
class NativeJob {
 public:
  using Emit = std::function<void(const train::ProgressEvent&)>;
  // Runs on the job's thread; returns what `finish` turns into the Promise's value.
  using Body = std::function<std::function<Napi::Value(Napi::Env)>(const Emit&)>;

  // Starts `body` on a new thread; the Promise settles on the JavaScript thread.
  static Napi::Promise Start(Napi::Env env, BusyClaim claim, std::shared_ptr<std::atomic<bool>> abort, Body body, Napi::Function onEvent) {
    auto job = std::shared_ptr<NativeJob>(new NativeJob(env, std::move(claim), std::move(abort), std::move(body)));
    if (!onEvent.IsEmpty()) job->onEvent_ = Napi::Persistent(onEvent);
    Napi::Promise promise = job->deferred_.Promise();
    napi_value name = Napi::String::New(env, "mtl-torch training job");
    // Unbounded queue, one thread (the job's). The context is unused: each message carries its job.
    if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, nullptr, nullptr, nullptr, &CallJs, &job->tsfn_) != napi_ok) {
      throw Napi::Error::New(env);
    }
    // After the thread-safe function, so that at teardown this hook runs first (hooks run last-in
    // first-out) and the job has stopped before the function is closed.
    if (napi_add_env_cleanup_hook(env, &OnEnvironmentCleanup, job.get()) != napi_ok) {
      napi_release_threadsafe_function(job->tsfn_, napi_tsfn_abort);
      throw Napi::Error::New(env);
    }
    job->hooked_ = true;
    {
      std::lock_guard<std::mutex> lock(registryMutex());
      registry()[job.get()] = job;
    }
    installExitHandler();
    try {
      job->thread_ = std::thread([raw = job.get()] { raw->run(); });
    } catch (...) {  // no thread could be made (a process or container limit)
      napi_remove_env_cleanup_hook(env, &OnEnvironmentCleanup, job.get());
      job->forget();
      napi_release_threadsafe_function(job->tsfn_, napi_tsfn_abort);
      throw std::runtime_error("cannot start the training thread (the process may be at its thread limit)");
    }
    return promise;
  }

 private:
  NativeJob(Napi::Env env, BusyClaim claim, std::shared_ptr<std::atomic<bool>> abort, Body body)
      : env_(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        claim_(std::move(claim)),
        abort_(std::move(abort)),
        body_(std::move(body)) {}

  struct Message {
    std::shared_ptr<NativeJob> job;
    bool done = false;
    train::ProgressEvent event;
  };

  static std::mutex& registryMutex() {
    static auto* mutex = new std::mutex();  // never destroyed: the exit handler may run after static destructors began
    return *mutex;
  }
  static std::map<NativeJob*, std::shared_ptr<NativeJob>>& registry() {
    static auto* jobs = new std::map<NativeJob*, std::shared_ptr<NativeJob>>();
    return *jobs;
  }
  std::shared_ptr<NativeJob> self() {
    std::lock_guard<std::mutex> lock(registryMutex());
    auto it = registry().find(this);
    return it == registry().end() ? nullptr : it->second;
  }
  void forget() {
    std::lock_guard<std::mutex> lock(registryMutex());
    registry().erase(this);
  }

  // The job's thread.
  void run() {
    std::shared_ptr<NativeJob> job = self();
    try {
      adoptThreadSettings();
      finish_ = body_([&](const train::ProgressEvent& event) {
        if (onEvent_.IsEmpty()) return;
        napi_call_threadsafe_function(tsfn_, new Message{job, false, event}, napi_tsfn_nonblocking);
      });
    } catch (...) {
      error_ = std::current_exception();
    }
    // Refused (napi_closing) once the environment is going away: then nobody waits for the result.
    auto* done = new Message{job, true, {}};
    if (napi_call_threadsafe_function(tsfn_, done, napi_tsfn_nonblocking) != napi_ok) delete done;
    napi_release_threadsafe_function(tsfn_, napi_tsfn_release);
  }

  void join() {
    std::call_once(joined_, [this] {
      if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
    });
  }

  // On the JavaScript thread (env null: the function is being closed; the message is dropped).
  static void CallJs(napi_env env, napi_value, void*, void* data) {
    std::unique_ptr<Message> message(static_cast<Message*>(data));
    if (env == nullptr) return;
    NativeJob& job = *message->job;
    Napi::Env napiEnv(env);
    Napi::HandleScope scope(napiEnv);
    if (!message->done) {
      try {
        job.onEvent_.Call({eventToObject(napiEnv, message->event)});
      } catch (const Napi::Error&) {
        // A throwing listener must not take the run down; lib/train reports it on the console.
      }
      return;
    }
    job.join();
    if (job.hooked_) napi_remove_env_cleanup_hook(env, &OnEnvironmentCleanup, &job);
    job.hooked_ = false;
    job.claim_.release();
    job.forget();
    if (job.error_) {
      job.deferred_.Reject(errorValue(napiEnv, job.error_));
    } else {
      try {
        job.deferred_.Resolve(job.finish_(napiEnv));
      } catch (const Napi::Error& e) {
        job.deferred_.Reject(e.Value());
      }
    }
    job.onEvent_.Reset();
  }

  // The environment is being torn down (worker.terminate(), the end of a worker or of the main
  // environment): stop the loop at its next step and wait for it; nothing settles any more.
  static void OnEnvironmentCleanup(void* data) {
    auto* job = static_cast<NativeJob*>(data);
    std::shared_ptr<NativeJob> keep = job->self();
    job->hooked_ = false;
    job->abort_->store(true);
    job->join();
    job->claim_.release();
    // Queued messages still hold the job and may outlive the environment: drop its reference now.
    job->onEvent_.Reset();
    job->forget();
  }

  // process.exit() and fatal exceptions end the process without tearing environments down (and
  // Node waits for its libuv pool, where this job does not run): the jobs still running are
  // stopped here, before libtorch's static destructors run under them.
  static void installExitHandler() {
    static std::once_flag installed;
    std::call_once(installed, [] { std::atexit(&StopAllAtExit); });
  }
  static void StopAllAtExit() {
    std::vector<std::shared_ptr<NativeJob>> running;
    {
      std::lock_guard<std::mutex> lock(registryMutex());
      for (const auto& [raw, job] : registry()) running.push_back(job);
    }
    for (const auto& job : running) job->abort_->store(true);
    for (const auto& job : running) job->join();
    // Owned by the registry, which is never destroyed: no joinable thread is ever destroyed.
  }

  Napi::Env env_;
  Napi::Promise::Deferred deferred_;
  BusyClaim claim_;
  std::shared_ptr<std::atomic<bool>> abort_;
  Body body_;
  Napi::FunctionReference onEvent_;
  napi_threadsafe_function tsfn_ = nullptr;
  std::thread thread_;
  std::once_flag joined_;
  bool hooked_ = false;
  std::function<Napi::Value(Napi::Env)> finish_;
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
      BusyClaim claim(core_->lease);
      core_->abortRequested->store(false);
      auto core = core_;
      return NativeJob::Start(
          info.Env(), std::move(claim), core->abortRequested,
          [core, trainSets, evalSets, settings](const NativeJob::Emit& emit) -> std::function<Napi::Value(Napi::Env)> {
            train::FitResult result = core->trainer->fit(trainSets, evalSets, settings, emit, *core->abortRequested);
            return [result](Napi::Env env) { return fitResultToValue(env, result); };
          },
          onEvent);
    });
  }

  // evaluate(evalSets) → Promise<{ task: { metric: value } }>
  Napi::Value Evaluate(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      train::Datasets evalSets = datasetsOf(info[0], "evalSets");
      BusyClaim claim(core_->lease);
      auto core = core_;
      return NativeJob::Start(
          info.Env(), std::move(claim), std::make_shared<std::atomic<bool>>(false),
          [core, evalSets](const NativeJob::Emit&) -> std::function<Napi::Value(Napi::Env)> {
            train::Metrics metrics = core->trainer->evaluate(evalSets);
            return [metrics](Napi::Env env) -> Napi::Value { return metricsToObject(env, metrics); };
          },
          Napi::Function());
    });
  }

  // step({ task: batch }) → { losses, lambdas, learningRate, skipped, reason? } (synchronous)
  Napi::Value Step(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      const auto batches = batchesOf(info[0], "step");
      BusyClaim claim(core_->lease);
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
    core_->abortRequested->store(true);
    return info.Env().Undefined();
  }

  Napi::Value SaveCheckpoint(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      Args args(info);
      BusyClaim claim(core_->lease);
      core_->trainer->saveCheckpoint(args.string(0));
      return info.Env().Undefined();
    });
  }

  Napi::Value LoadCheckpoint(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      Args args(info);
      BusyClaim claim(core_->lease);
      core_->trainer->loadCheckpoint(args.string(0));
      return info.Env().Undefined();
    });
  }

  Napi::Value WeightingParameters(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      const auto parameters = core_->trainer->weighting().parameters();
      Napi::Array out = Napi::Array::New(info.Env(), parameters.size());
      for (size_t i = 0; i < parameters.size(); ++i)
        out.Set(static_cast<uint32_t>(i), TensorHandle::Wrap(info.Env(), parameters[i].detach().clone()));
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
