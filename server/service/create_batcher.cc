#include "server/service/create_batcher.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/service/call_context.h"
#include "server/service/consistency_token.h"
#include "server/service/user_mapper.h"

namespace userservice {
namespace {

void ReplyCreated(CreateUserCall& call, const Positioned<User>& created) {
  ToProto(created.value, call.response().mutable_user());
  call.response().set_consistency_token(
      EncodeConsistencyToken(created.position));
  call.Reply(grpc::Status::OK);
}

}  // namespace

CreateBatcher::CreateBatcher(UserWriter* writer,
                             const FailureWarnings* failures,
                             CreateBatcherOptions options)
    : writer_(writer),
      failures_(failures),
      observer_(options.observer),
      write_workers_(
          options.write_workers, options.write_batch_max,
          [this](std::vector<ParsedCreateUser>& batch) { WriteBatch(batch); }) {
}

void CreateBatcher::WriteBatch(std::vector<ParsedCreateUser>& batch) {
  std::vector<ParsedCreateUser*> batchable;
  batchable.reserve(batch.size());
  for (ParsedCreateUser& create : batch) {
    CreateUserCall& call = *create.call;
    // A caller that left while its call was queued gets no user created
    // behind its back.
    if (create.ctx.Cancelled()) {
      call.Reply(failures_->ToReply(
          call.context(), "CreateUser",
          absl::CancelledError("the call was cancelled by the client")));
    } else if (create.ctx.Expired()) {
      call.Reply(failures_->ToReply(
          call.context(), "CreateUser",
          absl::DeadlineExceededError("deadline exceeded before the user was "
                                      "written; nothing was created")));
    } else if (!create.user.request_id.empty()) {
      // An idempotent create looks up and records its request_id in a
      // transaction of its own.
      InsertAlone(create);
    } else {
      batchable.push_back(&create);
    }
  }
  InsertBatch(batchable);
}

void CreateBatcher::InsertBatch(absl::Span<ParsedCreateUser* const> batch) {
  if (batch.empty()) return;
  if (batch.size() == 1) {
    InsertAlone(*batch.front());
    return;
  }
  std::vector<NewUser> users;
  users.reserve(batch.size());
  for (const ParsedCreateUser* create : batch) users.push_back(create->user);
  if (observer_ != nullptr) observer_->OnInsert(static_cast<int>(batch.size()));
  absl::StatusOr<std::vector<Positioned<User>>> created =
      writer_->CreateUsers(users, SharedContext(batch));
  if (absl::IsAlreadyExists(created.status())) {
    if (observer_ != nullptr) observer_->OnSharedInsertClash();
    // Some of them clash, with existing users or with each other. Halving
    // finds the culprits in a few statements and lets the rest through
    // in batches; a lone culprit learns what it clashes with.
    const size_t half = batch.size() / 2;
    InsertBatch(batch.subspan(0, half));
    InsertBatch(batch.subspan(half));
    return;
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    CreateUserCall& call = *batch[i]->call;
    if (!created.ok()) {
      call.Reply(
          failures_->ToReply(call.context(), "CreateUser", created.status()));
      continue;
    }
    ReplyCreated(call, (*created)[i]);
  }
}

void CreateBatcher::InsertAlone(ParsedCreateUser& create) {
  CreateUserCall& call = *create.call;
  if (observer_ != nullptr) observer_->OnInsert(1);
  absl::StatusOr<Positioned<User>> created =
      writer_->CreateUser(create.user, create.ctx);
  if (!created.ok()) {
    call.Reply(
        failures_->ToReply(call.context(), "CreateUser", created.status()));
    return;
  }
  ReplyCreated(call, *created);
}

}  // namespace userservice
