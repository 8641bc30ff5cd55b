#include "backends/openai/http_transfer.h"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace nnb::openai {
namespace {

// curl_global_init is not thread-safe; once per process, before any handle.
void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

CURLM* multi(void* p) { return static_cast<CURLM*>(p); }
CURL* easy(void* p) { return static_cast<CURL*>(p); }

}  // namespace

HttpTransfer::HttpTransfer(const HttpRequest& req, BodySink on_body)
    : on_body_(std::move(on_body)), max_body_(req.max_body_bytes) {
  global_init();
  multi_ = curl_multi_init();
  easy_ = curl_easy_init();
  if (!multi_ || !easy_) {
    close();
    throw std::runtime_error("libcurl could not create a handle");
  }
  CURL* e = easy(easy_);
  curl_easy_setopt(e, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM: we are one thread of many
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, long(std::max(1.0, req.connect_timeout_s * 1000)));
  // "Idle": under 1 byte/s for idle_timeout_s seconds (whole seconds, at least 1).
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, long(std::max(1.0, req.idle_timeout_s + 0.5)));
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);  // an upstream's redirect is a misconfiguration
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf_);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &HttpTransfer::on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, this);
  curl_slist* h = nullptr;
  h = curl_slist_append(h, "Accept: application/json, text/event-stream");
  if (req.post) h = curl_slist_append(h, "Content-Type: application/json");
  if (!req.api_key.empty()) h = curl_slist_append(h, ("Authorization: Bearer " + req.api_key).c_str());
  headers_ = h;
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  if (req.post) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(req.body.size()));
    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req.body.c_str());
  }
  curl_multi_add_handle(multi(multi_), e);
}

HttpTransfer::~HttpTransfer() { close(); }

void HttpTransfer::close() {
  if (multi_ && easy_) curl_multi_remove_handle(multi(multi_), easy(easy_));
  if (easy_) curl_easy_cleanup(easy(easy_));
  if (multi_) curl_multi_cleanup(multi(multi_));
  if (headers_) curl_slist_free_all(static_cast<curl_slist*>(headers_));
  easy_ = multi_ = headers_ = nullptr;
}

size_t HttpTransfer::on_write(char* data, size_t size, size_t n, void* self) {
  return static_cast<HttpTransfer*>(self)->write(std::string_view(data, size * n));
}

size_t HttpTransfer::write(std::string_view bytes) {
  got_bytes_ = true;
  if (status_ == 0) curl_easy_getinfo(easy(easy_), CURLINFO_RESPONSE_CODE, &status_);
  try {
    if (status_ >= 200 && status_ < 300 && on_body_) {
      on_body_(bytes);
    } else {
      if (body_.size() + bytes.size() > max_body_)
        throw std::length_error("the answer's body exceeds " + std::to_string(max_body_) + " bytes");
      body_.append(bytes);
    }
  } catch (...) {
    failure_ = std::current_exception();
    return 0;  // stops the transfer (CURLE_WRITE_ERROR)
  }
  return bytes.size();
}

bool HttpTransfer::pump(const std::function<bool()>& enough, const std::function<bool()>& abort) {
  while (!finished_) {
    if (abort && abort()) {
      close();
      finished_ = true;
      error_ = "cancelled";
      return false;
    }
    got_bytes_ = false;
    int running = 0;
    const CURLMcode mc = curl_multi_perform(multi(multi_), &running);
    if (failure_) {
      close();
      finished_ = true;
      error_ = "stopped by its reader";
      std::rethrow_exception(std::exchange(failure_, nullptr));
    }
    if (mc != CURLM_OK) {
      finished_ = true;
      error_ = curl_multi_strerror(mc);
      break;
    }
    if (running == 0) {
      int left = 0;
      CURLcode rc = CURLE_OK;
      while (CURLMsg* m = curl_multi_info_read(multi(multi_), &left))
        if (m->msg == CURLMSG_DONE) rc = m->data.result;
      if (status_ == 0) curl_easy_getinfo(easy(easy_), CURLINFO_RESPONSE_CODE, &status_);
      finished_ = true;
      if (rc != CURLE_OK) {
        timed_out_ = rc == CURLE_OPERATION_TIMEDOUT;
        error_ = errbuf_[0] ? std::string(errbuf_) : std::string(curl_easy_strerror(rc));
      }
      break;
    }
    if (got_bytes_ && enough && enough()) return true;
    curl_multi_poll(multi(multi_), nullptr, 0, 50, nullptr);
  }
  return true;
}

}  // namespace nnb::openai
