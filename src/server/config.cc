#include "server/config.h"

#include <toml++/toml.h>
#include <fstream>
#include <set>
#include <sstream>

namespace imgbatch::server {
namespace {

// Reads typed values from a TOML table and reports the first problem with the
// node's position, as "FILE:LINE:COL: reason".
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  bool ok() const { return error_.empty(); }
  Status status() const {
    return ok() ? Status::Ok()
                : Status(Code::kInvalidArgument, error_).WithDetail("InvalidConfiguration");
  }

  void Fail(const toml::node* node, const std::string& reason) {
    if (!ok()) return;
    std::ostringstream out;
    out << file_;
    if (node) out << ":" << node->source().begin.line << ":" << node->source().begin.column;
    out << ": " << reason;
    error_ = out.str();
  }

  template <typename T>
  void Get(const toml::table& t, std::string_view key, T& out) {
    const toml::node* node = t.get(key);
    if (!node) return;
    if constexpr (std::is_same_v<T, std::string>) {
      if (auto v = node->value<std::string>())
        out = *v;
      else
        Fail(node, std::string(key) + " must be a string");
    } else if constexpr (std::is_same_v<T, bool>) {
      if (auto v = node->value<bool>())
        out = *v;
      else
        Fail(node, std::string(key) + " must be true or false");
    } else if constexpr (std::is_floating_point_v<T>) {
      if (auto v = node->value<double>())
        out = *v;
      else
        Fail(node, std::string(key) + " must be a number");
    } else {
      auto v = node->value<int64_t>();
      if (!v) return Fail(node, std::string(key) + " must be an integer");
      if (*v < 0) return Fail(node, std::string(key) + " must not be negative");
      out = static_cast<T>(*v);
    }
  }

  void GetStrings(const toml::table& t, std::string_view key, std::vector<std::string>& out) {
    const toml::node* node = t.get(key);
    if (!node) return;
    const toml::array* arr = node->as_array();
    if (!arr) return Fail(node, std::string(key) + " must be an array of strings");
    out.clear();
    for (const auto& item : *arr) {
      if (auto v = item.value<std::string>())
        out.push_back(*v);
      else
        return Fail(&item, std::string(key) + " must hold strings");
    }
  }

  // Unknown keys are errors: a typo must not silently keep a default.
  void OnlyKeys(const toml::table& t, std::initializer_list<std::string_view> allowed,
                std::string_view where) {
    for (const auto& [k, v] : t) {
      bool known = false;
      for (auto a : allowed) known = known || a == k.str();
      if (!known) Fail(&v, "unknown key '" + std::string(k.str()) + "' in " + std::string(where));
    }
  }

  // [[name]] arrays of tables.
  template <typename Fn>
  void EachTable(const toml::table& root, std::string_view key, Fn fn) {
    const toml::node* node = root.get(key);
    if (!node) return;
    const toml::array* arr = node->as_array();
    if (!arr) return Fail(node, std::string(key) + " must be written [[" + std::string(key) + "]]");
    for (const auto& item : *arr) {
      if (const toml::table* t = item.as_table())
        fn(*t);
      else
        Fail(&item, std::string(key) + " entries must be tables");
    }
  }

  const toml::table* Table(const toml::table& root, std::string_view key) {
    const toml::node* node = root.get(key);
    if (!node) return nullptr;
    if (!node->as_table())
      Fail(node, std::string(key) + " must be a table [" + std::string(key) + "]");
    return node->as_table();
  }

 private:
  std::string file_;
  std::string error_;
};

void ReadQueues(Reader& r, const toml::table& root, Config& c) {
  if (!root.get("queues")) return;
  c.queues.clear();
  r.EachTable(root, "queues", [&](const toml::table& t) {
    r.OnlyKeys(t,
               {"name", "visibility_timeout", "message_retention", "receive_wait",
                "dead_letter_queue", "max_receive_count", "policy"},
               "[[queues]]");
    QueueSpec q;
    r.Get(t, "name", q.name);
    r.Get(t, "visibility_timeout", q.visibility_timeout);
    r.Get(t, "message_retention", q.message_retention);
    r.Get(t, "receive_wait", q.receive_wait);
    r.Get(t, "dead_letter_queue", q.dead_letter_queue);
    r.Get(t, "max_receive_count", q.max_receive_count);
    r.Get(t, "policy", q.policy_json);
    if (q.name.empty()) r.Fail(&t, "a queue needs a name");
    c.queues.push_back(q);
  });
}

void ReadNotifications(Reader& r, const toml::table& root, Config& c) {
  if (!root.get("notifications")) return;
  c.notifications.clear();
  r.EachTable(root, "notifications", [&](const toml::table& t) {
    r.OnlyKeys(t, {"id", "bucket", "queue", "events", "prefix", "suffix", "suffixes"},
               "[[notifications]]");
    NotificationSpec n;
    r.Get(t, "id", n.id);
    r.Get(t, "bucket", n.bucket);
    r.Get(t, "queue", n.queue);
    r.GetStrings(t, "events", n.events);
    r.Get(t, "prefix", n.prefix);
    r.Get(t, "suffix", n.suffix);
    std::vector<std::string> suffixes;
    r.GetStrings(t, "suffixes", suffixes);
    if (n.bucket.empty() || n.queue.empty()) r.Fail(&t, "a notification needs bucket and queue");
    if (suffixes.empty()) {
      c.notifications.push_back(n);
    } else {
      // One QueueConfiguration per suffix, as AWS needs (one suffix rule each).
      for (const auto& s : suffixes) {
        NotificationSpec one = n;
        one.suffix = s;
        if (!one.id.empty()) one.id += "-" + s.substr(s.find_first_not_of('.'));
        c.notifications.push_back(one);
      }
    }
  });
}

void ReadOutputs(Reader& r, const toml::table& root, Config& c) {
  if (!root.get("outputs")) return;
  c.outputs.clear();
  r.EachTable(root, "outputs", [&](const toml::table& t) {
    r.OnlyKeys(t, {"name", "prefix", "width", "height", "fit", "format", "quality", "chroma"},
               "[[outputs]]");
    OutputSpec o;
    r.Get(t, "name", o.name);
    o.prefix = o.name + "/";
    r.Get(t, "prefix", o.prefix);
    r.Get(t, "width", o.width);
    r.Get(t, "height", o.height);
    r.Get(t, "fit", o.fit);
    r.Get(t, "format", o.format);
    r.Get(t, "quality", o.quality);
    r.Get(t, "chroma", o.chroma);
    if (o.name.empty()) r.Fail(&t, "an output needs a name");
    if (o.width <= 0 || o.height <= 0) r.Fail(&t, "an output needs width and height > 0");
    if (o.fit != "inside" && o.fit != "cover") r.Fail(t.get("fit"), "fit must be inside or cover");
    if (o.format != "jpeg" && o.format != "webp" && o.format != "avif" && o.format != "png") {
      r.Fail(t.get("format"), "format must be jpeg, webp, avif or png");
    }
    if (o.quality < 1 || o.quality > 100) r.Fail(t.get("quality"), "quality must be 1..100");
    if (o.chroma != "420" && o.chroma != "444")
      r.Fail(t.get("chroma"), "chroma must be 420 or 444");
    c.outputs.push_back(o);
  });
}

void ReadWorkers(Reader& r, const toml::table& root, Config& c) {
  const toml::table* t = r.Table(root, "workers");
  if (!t) return;
  r.OnlyKeys(*t,
             {"input_bucket", "output_bucket", "queue", "dead_letter_queue", "min", "max",
              "concurrency", "stop_timeout", "nice"},
             "[workers]");
  WorkerSpec& w = c.workers;
  r.Get(*t, "input_bucket", w.input_bucket);
  r.Get(*t, "output_bucket", w.output_bucket);
  r.Get(*t, "queue", w.queue);
  r.Get(*t, "dead_letter_queue", w.dead_letter_queue);
  r.Get(*t, "min", w.min);
  r.Get(*t, "max", w.max);
  r.Get(*t, "concurrency", w.concurrency);
  r.Get(*t, "stop_timeout", w.stop_timeout_seconds);
  r.Get(*t, "nice", w.nice);
  if (w.nice > 19) r.Fail(t->get("nice"), "workers.nice must be 0..19");
  if (w.max != 0 && w.min > w.max) r.Fail(t->get("min"), "workers.min is above workers.max");
}

void ReadAlarms(Reader& r, const toml::table& root, Config& c) {
  if (!root.get("alarms")) return;
  c.alarms.clear();
  r.EachTable(root, "alarms", [&](const toml::table& t) {
    r.OnlyKeys(t,
               {"name", "metric", "queue", "statistic", "period", "evaluation_periods",
                "comparison", "threshold"},
               "[[alarms]]");
    AlarmConfig a;
    r.Get(t, "name", a.name);
    r.Get(t, "metric", a.metric);
    r.Get(t, "queue", a.queue);
    r.Get(t, "statistic", a.statistic);
    r.Get(t, "period", a.period_seconds);
    r.Get(t, "evaluation_periods", a.evaluation_periods);
    r.Get(t, "comparison", a.comparison);
    r.Get(t, "threshold", a.threshold);
    if (a.name.empty() || a.metric.empty()) r.Fail(&t, "an alarm needs name and metric");
    if (a.period_seconds < 1 || a.evaluation_periods < 1) {
      r.Fail(&t, "alarm period and evaluation_periods must be at least 1");
    }
    c.alarms.push_back(a);
  });
}

void ReadScaling(Reader& r, const toml::table& root, Config& c) {
  const toml::table* t = r.Table(root, "scaling");
  if (!t) return;
  r.OnlyKeys(*t,
             {"policy", "target_backlog_per_worker", "scale_out_cooldown", "scale_in_cooldown",
              "alarm", "steps"},
             "[scaling]");
  ScalingConfig& s = c.scaling;
  r.Get(*t, "policy", s.policy);
  r.Get(*t, "target_backlog_per_worker", s.target_backlog_per_worker);
  r.Get(*t, "scale_out_cooldown", s.scale_out_cooldown_seconds);
  r.Get(*t, "scale_in_cooldown", s.scale_in_cooldown_seconds);
  r.Get(*t, "alarm", s.step_alarm);
  if (s.policy != "target-tracking" && s.policy != "step") {
    r.Fail(t->get("policy"), "scaling.policy must be target-tracking or step");
  }
  if (s.target_backlog_per_worker <= 0) {
    r.Fail(t->get("target_backlog_per_worker"), "target_backlog_per_worker must be > 0");
  }
  r.EachTable(*t, "steps", [&](const toml::table& st) {
    r.OnlyKeys(st, {"lower", "upper", "change"}, "[[scaling.steps]]");
    ScalingConfig::Step step;
    double v = 0;
    if (st.get("lower")) {
      r.Get(st, "lower", v);
      step.lower = v;
    }
    if (st.get("upper")) {
      r.Get(st, "upper", v);
      step.upper = v;
    }
    if (auto n = st.get("change"); n && n->value<int64_t>()) {
      step.change = static_cast<int>(*n->value<int64_t>());
    }
    s.steps.push_back(step);
  });
  if (s.policy == "step" && (s.step_alarm.empty() || s.steps.empty())) {
    r.Fail(t, "scaling.policy = \"step\" needs alarm and [[scaling.steps]]");
  }
}

void ReadKeys(Reader& r, const toml::table& root, Config& c) {
  r.EachTable(root, "keys", [&](const toml::table& t) {
    r.OnlyKeys(t, {"name", "access_key_id", "secret_access_key", "policy"}, "[[keys]]");
    KeyConfig k;
    r.Get(t, "name", k.name);
    r.Get(t, "access_key_id", k.access_key_id);
    r.Get(t, "secret_access_key", k.secret_access_key);
    r.Get(t, "policy", k.policy_json);
    if (k.access_key_id.empty() || k.secret_access_key.empty()) {
      r.Fail(&t, "a key needs access_key_id and secret_access_key");
    }
    c.keys.push_back(k);
  });
  if (const toml::table* root_key = r.Table(root, "root_key")) {
    r.OnlyKeys(*root_key, {"access_key_id", "secret_access_key"}, "[root_key]");
    std::string id, secret;
    r.Get(*root_key, "access_key_id", id);
    r.Get(*root_key, "secret_access_key", secret);
    if (id.empty() || secret.empty()) r.Fail(root_key, "root_key needs both fields");
    c.root_access_key_id = id;
    c.root_secret_access_key = secret;
  }
}

void ReadLimits(Reader& r, const toml::table& root, Config& c) {
  const toml::table* t = r.Table(root, "limits");
  if (!t) return;
  r.OnlyKeys(*t,
             {"max_object_bytes", "max_image_bytes", "max_image_pixels", "max_image_dimension",
              "free_space_reserve_bytes", "max_connections", "max_messages_in_flight",
              "max_messages_in_flight_fifo", "fifo_calls_per_second"},
             "[limits]");
  LimitsConfig& l = c.limits;
  r.Get(*t, "max_object_bytes", l.max_object_bytes);
  r.Get(*t, "max_image_bytes", l.max_image_bytes);
  r.Get(*t, "max_image_pixels", l.max_image_pixels);
  r.Get(*t, "max_image_dimension", l.max_image_dimension);
  r.Get(*t, "free_space_reserve_bytes", l.free_space_reserve_bytes);
  r.Get(*t, "max_connections", l.max_connections);
  r.Get(*t, "max_messages_in_flight", l.max_messages_in_flight);
  r.Get(*t, "max_messages_in_flight_fifo", l.max_messages_in_flight_fifo);
  r.Get(*t, "fifo_calls_per_second", l.fifo_calls_per_second);
  if (l.max_messages_in_flight < 1) {
    r.Fail(t->get("max_messages_in_flight"), "max_messages_in_flight must be at least 1");
  }
  if (l.max_messages_in_flight_fifo < 1) {
    r.Fail(t->get("max_messages_in_flight_fifo"), "max_messages_in_flight_fifo must be at least 1");
  }
}

void ReadBucketPolicies(Reader& r, const toml::table& root, Config& c) {
  r.EachTable(root, "bucket_policies", [&](const toml::table& t) {
    r.OnlyKeys(t, {"bucket", "policy"}, "[[bucket_policies]]");
    BucketPolicySpec spec;
    r.Get(t, "bucket", spec.bucket);
    r.Get(t, "policy", spec.policy_json);
    if (spec.bucket.empty() || spec.policy_json.empty()) {
      r.Fail(&t, "a bucket policy needs bucket and policy");
    }
    c.bucket_policies.push_back(spec);
  });
}

// A whole number of days >= 1 when present (S3's rule for Days).
std::optional<int> ReadDays(Reader& r, const toml::table& t, std::string_view key) {
  if (!t.get(key)) return std::nullopt;
  int days = 0;
  r.Get(t, key, days);
  if (days < 1) r.Fail(t.get(key), std::string(key) + " must be at least 1");
  return days;
}

void ReadLifecycle(Reader& r, const toml::table& root, Config& c) {
  const toml::table* t = r.Table(root, "lifecycle");
  if (!t) return;
  r.OnlyKeys(*t, {"interval_seconds", "rules"}, "[lifecycle]");
  r.Get(*t, "interval_seconds", c.lifecycle.interval_seconds);
  if (c.lifecycle.interval_seconds < 1) {
    r.Fail(t->get("interval_seconds"), "interval_seconds must be at least 1");
  }
  r.EachTable(*t, "rules", [&](const toml::table& rt) {
    r.OnlyKeys(
        rt, {"bucket", "id", "prefix", "expiration_days", "abort_incomplete_multipart_upload_days"},
        "[[lifecycle.rules]]");
    LifecycleRuleSpec rule;
    r.Get(rt, "bucket", rule.bucket);
    r.Get(rt, "id", rule.id);
    r.Get(rt, "prefix", rule.prefix);
    rule.expiration_days = ReadDays(r, rt, "expiration_days");
    rule.abort_incomplete_days = ReadDays(r, rt, "abort_incomplete_multipart_upload_days");
    if (rule.bucket.empty()) r.Fail(&rt, "a lifecycle rule needs a bucket");
    if (!rule.expiration_days && !rule.abort_incomplete_days) {
      r.Fail(&rt,
             "a lifecycle rule needs expiration_days or abort_incomplete_multipart_upload_days");
    }
    c.lifecycle.rules.push_back(rule);
  });
}

}  // namespace

std::vector<std::string> DefaultImageSuffixes() {
  std::vector<std::string> out;
  for (std::string s :
       {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".gif", ".heic", ".avif"}) {
    out.push_back(s);
    std::string upper = s;
    for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    out.push_back(upper);
  }
  return out;
}

Config SeedDefaults() {
  Config c;
  c.buckets = {"input", "output"};
  c.queues = {QueueSpec{"batch-queue", 120, 345600, 0, "batch-dlq", 5},
              QueueSpec{"batch-dlq", 30, 1209600, 0, "", 0}};
  for (const auto& suffix : DefaultImageSuffixes()) {
    NotificationSpec n;
    n.id = "images" + suffix;  // ".jpg" -> "images.jpg"
    n.bucket = "input";
    n.queue = "batch-queue";
    n.suffix = suffix;
    c.notifications.push_back(n);
  }
  c.outputs = {OutputSpec{"resized", "resized/", 1024, 768, "inside", "jpeg", 100, "420"},
               OutputSpec{"thumbs", "thumbs/", 192, 192, "inside", "jpeg", 75, "420"}};
  c.alarms = {AlarmConfig{"SQSCloudWatchAlarm", "ApproximateNumberOfMessagesVisible", "batch-queue",
                          "Average", 60, 1, "GreaterThanOrEqualToThreshold", 5}};
  return c;
}

Result<Config> ParseConfig(const std::string& toml_text, const std::string& file_name) {
  toml::table root;
  try {
    root = toml::parse(toml_text, file_name);
  } catch (const toml::parse_error& e) {
    std::ostringstream out;
    out << file_name << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
        << e.description();
    return Status(Code::kInvalidArgument, out.str()).WithDetail("InvalidConfiguration");
  }
  Config c = SeedDefaults();
  c.source = file_name;
  Reader r(file_name);
  r.OnlyKeys(root,
             {"buckets", "bucket_policies", "queues", "notifications", "outputs", "workers",
              "alarms", "scaling", "keys", "root_key", "limits", "lifecycle"},
             "the top level");
  r.GetStrings(root, "buckets", c.buckets);
  ReadBucketPolicies(r, root, c);
  ReadQueues(r, root, c);
  ReadNotifications(r, root, c);
  ReadOutputs(r, root, c);
  ReadWorkers(r, root, c);
  ReadAlarms(r, root, c);
  ReadScaling(r, root, c);
  ReadKeys(r, root, c);
  ReadLimits(r, root, c);
  ReadLifecycle(r, root, c);
  if (!r.ok()) return r.status();
  IMGBATCH_RETURN_IF_ERROR(ValidateConfig(c));
  return c;
}

Result<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(Code::kNotFound, path + ": cannot read the configuration file");
  std::ostringstream text;
  text << in.rdbuf();
  return ParseConfig(text.str(), path);
}

Status ValidateConfig(const Config& c) {
  auto fail = [&](const std::string& reason) {
    return Status(Code::kInvalidArgument, c.source + ": " + reason)
        .WithDetail("InvalidConfiguration");
  };
  std::set<std::string> buckets(c.buckets.begin(), c.buckets.end());
  std::set<std::string> queues;
  for (const auto& q : c.queues) {
    if (!queues.insert(q.name).second) return fail("queue '" + q.name + "' is declared twice");
  }
  for (const auto& q : c.queues) {
    if (!q.dead_letter_queue.empty() && !queues.count(q.dead_letter_queue)) {
      return fail("queue '" + q.name + "' names an unknown dead_letter_queue '" +
                  q.dead_letter_queue + "'");
    }
  }
  std::set<std::string> with_policy;
  for (const auto& p : c.bucket_policies) {
    if (!buckets.count(p.bucket)) return fail("bucket policy of unknown bucket '" + p.bucket + "'");
    if (!with_policy.insert(p.bucket).second) {
      return fail("bucket '" + p.bucket + "' has two policies");
    }
  }
  for (const auto& rule : c.lifecycle.rules) {
    if (!buckets.count(rule.bucket)) {
      return fail("lifecycle rule on unknown bucket '" + rule.bucket + "'");
    }
  }
  for (const auto& n : c.notifications) {
    if (!buckets.count(n.bucket)) return fail("notification on unknown bucket '" + n.bucket + "'");
    if (!queues.count(n.queue)) return fail("notification to unknown queue '" + n.queue + "'");
  }
  const WorkerSpec& w = c.workers;
  if (!c.outputs.empty()) {
    if (!buckets.count(w.input_bucket)) return fail("workers.input_bucket is not a bucket");
    if (!buckets.count(w.output_bucket)) return fail("workers.output_bucket is not a bucket");
    if (!queues.count(w.queue)) return fail("workers.queue is not a queue");
  }
  // Outputs written into a bucket whose notifications match them would
  // trigger the pipeline again, forever (aws-lambda-developer-guide #173).
  for (const auto& o : c.outputs) {
    for (const auto& n : c.notifications) {
      if (n.bucket != w.output_bucket) continue;
      bool created = false;
      for (const auto& e : n.events) created = created || e.starts_with("s3:ObjectCreated");
      bool prefix_overlap = o.prefix.starts_with(n.prefix) || n.prefix.starts_with(o.prefix);
      if (created && prefix_overlap) {
        return fail("output '" + o.name + "' is written to bucket '" + w.output_bucket +
                    "' where notification '" + n.id +
                    "' would process it again (a recursive trigger); use another bucket or "
                    "a prefix filter that excludes '" +
                    o.prefix + "'");
      }
    }
  }
  for (const auto& a : c.alarms) {
    if (!a.queue.empty() && !queues.count(a.queue)) {
      return fail("alarm '" + a.name + "' watches unknown queue '" + a.queue + "'");
    }
  }
  if (c.scaling.policy == "step") {
    bool found = false;
    for (const auto& a : c.alarms) found = found || a.name == c.scaling.step_alarm;
    if (!found) return fail("scaling.alarm '" + c.scaling.step_alarm + "' is not an alarm");
  }
  return Status::Ok();
}

}  // namespace imgbatch::server
