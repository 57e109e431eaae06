#ifndef USERSERVICE_SERVER_SERVICE_CREATE_OBSERVER_H_
#define USERSERVICE_SERVER_SERVICE_CREATE_OBSERVER_H_

namespace userservice {

// How creates were written, for metrics: how many each insert carried and
// how often a shared insert clashed and was split. Called on the write
// workers; implementations must be cheap and thread-safe. The default does
// nothing.
class CreateObserver {
 public:
  virtual ~CreateObserver() = default;

  // An insert of `users` new users (1 for a create written alone) is about
  // to run.
  virtual void OnInsert(int users) {}
  // A shared insert hit a unique key and will be retried in halves.
  virtual void OnSharedInsertClash() {}
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_SERVICE_CREATE_OBSERVER_H_
