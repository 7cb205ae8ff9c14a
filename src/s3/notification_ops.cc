// PUT/GET /<bucket>?notification: XML <-> notify::Notifier, which owns the
// rules (validation, storage, the s3:TestEvent).
#include "notify/notifier.h"
#include "s3/errors.h"
#include "s3/notification_xml.h"
#include "s3/ops.h"

namespace imgbatch::s3 {

OpResult PutBucketNotification(const OpContext& ctx) {
  if (ctx.s3.notifier == nullptr) return S3Status("NotImplemented");
  IMGBATCH_ASSIGN_OR_RETURN(std::string body, ctx.ReadXmlBody());
  IMGBATCH_ASSIGN_OR_RETURN(notify::NotificationConfiguration config,
                            ParseNotificationConfiguration(body));
  IMGBATCH_RETURN_IF_ERROR(ctx.s3.notifier->PutConfiguration(ctx.request.bucket, std::move(config),
                                                             ctx.request.request_id));
  return EmptyResponse(200);
}

OpResult GetBucketNotification(const OpContext& ctx) {
  if (ctx.s3.notifier == nullptr) return S3Status("NotImplemented");
  IMGBATCH_ASSIGN_OR_RETURN(notify::NotificationConfiguration config,
                            ctx.s3.notifier->GetConfiguration(ctx.request.bucket));
  http::Response response;
  response.headers.Set("Content-Type", "application/xml");
  response.body = RenderNotificationConfiguration(config);
  return response;
}

}  // namespace imgbatch::s3
