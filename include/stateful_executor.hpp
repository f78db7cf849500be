/*
 * stateful-executor: the routing state of stateful services, kept in Redis.
 * C++17 API, header-only, over the C API of stateful_executor.h (same library, same ABI: there
 * is no C++ library to build or link besides libstateful_executor). The data model and every
 * operation's semantics are those of the C API (docs/c-api.md and docs/data-model.md in the
 * source repository, installed as share/doc/stateful_executor/); this header documents what
 * the C++ layer adds: types, ownership, errors and threading. Guide: docs/cpp.md.
 *
 *   #include <stateful_executor.hpp>
 *   namespace se = stateful_executor;
 *
 *   se::Executor ex = se::Executor::open(
 *       se::Config::standalone("redis://127.0.0.1:6379").set_command_timeout_ms(500));
 *   ex.set_service_state("prod", "chat", 0, "Running");
 *   std::optional<int32_t> pod = ex.get_linked_pod("prod", "user-42", "chat");  // nullopt: none
 *   int32_t now = ex.set_linked_pod_if_absent("prod", "user-42", "chat", 0, se::persistent);
 *
 * Linking: CMake `find_package(stateful_executor 0.2 REQUIRED)` and
 * `target_link_libraries(app PRIVATE stateful_executor::cxx)` (the header, C++17, and the shared
 * library); or pkg-config: `c++ -std=c++17 app.cpp $(pkg-config --cflags --libs stateful_executor)`.
 *
 * Errors. Every call comes in two forms:
 *  - the throwing form (`ex.get_linked_pod(ns, uid, service)`) throws `stateful_executor::Error`,
 *    a `std::runtime_error` whose `status()` is the `sf_status` code (SF_TIMEOUT, ...) and whose
 *    `what()` is the library's message. Absence is never an error: a missing link is
 *    `std::nullopt`, a missing workload state `std::nullopt`, an unknown service an empty map.
 *  - the non-throwing form takes a trailing `Status&` (`ex.get_linked_pod(ns, uid, service, st)`),
 *    in the manner of std::filesystem's `std::error_code&` overloads: the call writes its
 *    outcome into the `Status` (code and the library's message, which a plain std::error_code
 *    could not carry) and returns an empty value on failure (std::nullopt, an empty container,
 *    false, or SF_NO_POD where the result is a plain pod). `Status::error_code()` gives the
 *    std::error_code for code that wants one. With exceptions disabled (-fno-exceptions, or
 *    STATEFUL_EXECUTOR_EXCEPTIONS defined to 0) only this form is declared, so the header
 *    compiles and works without exceptions. Both forms run the same code (the throwing one is
 *    the non-throwing one plus a check). Neither allocates on the heap besides the returned
 *    C++ values (and, for the reads of many entries, one array the C call fills; see
 *    "Arguments" for long arguments). Memory exhaustion is not turned
 *    into a Status: building a std::string, std::map or std::vector may throw std::bad_alloc
 *    (or abort without exceptions), as everywhere in the standard library.
 *
 * Arguments are std::string_view (anything that converts to one: std::string, literals, ...).
 * Each call copies them into NUL-terminated buffers on its stack, 1 KiB per call (lists of
 * names: 1 KiB and 32 entries), and allocates only beyond that (the identifier rules cap a
 * name at 253 or 512 bytes, a state at 4096). A string_view that holds a NUL byte cannot
 * become a C string: the call fails with SF_INVALID_ARGUMENT and sends nothing (a C caller's
 * string would have been cut at the NUL, naming another key). The library checks every other
 * rule (identifiers, pods, seconds) itself, with the same statuses and messages as in C. Lists
 * of names (`NameList`) accept any range of string-likes (std::vector<std::string>,
 * std::array<std::string_view, N>, ...) or a braced list; candidates (`Candidates`) a
 * std::vector or array of `Candidate`, a pointer and a count, or the two parallel arrays the C
 * function takes (no copy). Both are views, like std::string_view: pass them to a call, do not
 * keep them.
 *
 * Ownership: `Config` and `Executor` own their C objects and free them in their destructors
 * (sf_config_free, sf_executor_close); both are move-only (the C API has no way to copy them).
 * A moved-from or default-constructed object is empty: calls on it fail with
 * SF_INVALID_ARGUMENT, never with undefined behaviour. Results are plain C++
 * values (std::optional, std::string, std::map, std::vector) that own their memory; the C
 * result objects behind them are freed before the call returns. `Packed` and `Batch` own the
 * library's buffers and outcomes until they are destroyed, cleared or reused.
 *
 * Threading: an `Executor` is thread-safe; share one per process by reference (or pointer) and
 * call it from any number of threads at once. Every operation is `const`. Only its end of life
 * (destructor, close(), move-from or move-assign) must not race with calls on it, as
 * sf_executor_close must not. A `Config` may be read by several threads at once
 * (Executor::open) but not changed while another uses it. `Status`, `Packed` and `Batch` are
 * values: one per thread (or synchronise them yourself). `set_logger` is process-wide and
 * thread-safe.
 */

#ifndef STATEFUL_EXECUTOR_HPP
#define STATEFUL_EXECUTOR_HPP

#include "stateful_executor.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#if __cplusplus < 201703L && !(defined(_MSVC_LANG) && _MSVC_LANG >= 201703L)
#error "stateful_executor.hpp needs C++17 or later (the C API, stateful_executor.h, needs only C99)"
#endif

/* 1 when the throwing forms are declared: by default when the compiler has exceptions on.
 * Define it to 0 to keep only the Status& forms with exceptions on. */
#ifndef STATEFUL_EXECUTOR_EXCEPTIONS
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
#define STATEFUL_EXECUTOR_EXCEPTIONS 1
#else
#define STATEFUL_EXECUTOR_EXCEPTIONS 0
#endif
#endif

namespace stateful_executor {

/* ---- values ---- */

/** `persist_seconds` of a persistent link (no expiry, listed by get_link_services). A temporary
 *  link passes its lifetime in seconds, 1..2147483647. */
inline constexpr std::int32_t persistent = -1;

/** "No pod": what the non-throwing form of set_linked_pod_if_absent returns on failure, and
 *  what sits in the C results (SF_NO_POD). The C++ results say "none" with std::nullopt. */
inline constexpr std::int32_t no_pod = SF_NO_POD;

/** The outcome of try_set_linked_pod: whether the link was written, and the pod linked now (the
 *  requested one, or the pod of the persistent link that refused it). */
struct TrySetResult {
  bool linked;
  std::int32_t current;
};

inline bool operator==(const TrySetResult &a, const TrySetResult &b) noexcept {
  return a.linked == b.linked && a.current == b.current;
}
inline bool operator!=(const TrySetResult &a, const TrySetResult &b) noexcept { return !(a == b); }

/** A candidate pod of compute_linked_pod and its load (any figure where lower is better). */
struct Candidate {
  std::int32_t pod;
  std::int64_t load;
};

/** An executor's statistics: the C struct itself (fields documented in stateful_executor.h). */
using Stats = sf_stats;
/** The extended statistics (0.3: pipelined calls, the client cache's figures), the C struct. */
using StatsExt = sf_stats_ext;

/** Levels of set_logger's records (the SF_LOG_* values). */
enum class LogLevel : std::int32_t {
  error = SF_LOG_ERROR,
  warn = SF_LOG_WARN,
  info = SF_LOG_INFO,
  debug = SF_LOG_DEBUG,
  trace = SF_LOG_TRACE,
};

/** The library's version, e.g. "0.2.0" (sf_version); static storage. */
inline const char *version() noexcept { return sf_version(); }

/** The name of a status code: "SF_OK", "SF_TIMEOUT", ... (sf_status_name); static storage. */
inline const char *status_name(sf_status status) noexcept { return sf_status_name(status); }

/* ---- errors ---- */

/** The std::error_category of sf_status codes: name "stateful_executor", message the status
 *  name. std::error_code(SF_TIMEOUT, stateful_executor::error_category()). */
inline const std::error_category &error_category() noexcept {
  class Category final : public std::error_category {
   public:
    const char *name() const noexcept override { return "stateful_executor"; }
    std::string message(int code) const override { return sf_status_name(code); }
  };
  // Never destroyed, so that an Error's code() stays usable during static destruction.
  static const Category *const category = new Category;
  return *category;
}

/**
 * The outcome of one call in the non-throwing form: SF_OK, or a status code and the library's
 * message. Holds an sf_error, which the C call fills directly. Each operation overwrites it;
 * Config's setters leave an error in place (see Config). Not thread-safe: one per thread.
 */
class Status {
 public:
  /** SF_OK, empty message. */
  Status() noexcept {
    err_.code = SF_OK;
    err_.message[0] = '\0';
  }
  /** A given code and message (truncated to SF_ERROR_MESSAGE_SIZE - 1 bytes). */
  Status(sf_status code, std::string_view message) noexcept { assign(code, message); }

  /** True for SF_OK. */
  bool ok() const noexcept { return err_.code == SF_OK; }
  /** The sf_status code (SF_OK, SF_INVALID_ARGUMENT, ..., SF_INTERNAL). */
  sf_status code() const noexcept { return err_.code; }
  /** The code's name, "SF_OK", "SF_TIMEOUT", ...; static storage. */
  const char *name() const noexcept { return sf_status_name(err_.code); }
  /** The library's message; empty for SF_OK. Valid while the Status lives and is not reused. */
  const char *message() const noexcept { return err_.message; }
  /** The code as a std::error_code of error_category() (false for SF_OK). */
  std::error_code error_code() const noexcept { return {err_.code, error_category()}; }

  /** Back to SF_OK. */
  void clear() noexcept {
    err_.code = SF_OK;
    err_.message[0] = '\0';
  }
  /** Sets a code and message (truncated to fit, at a UTF-8 character boundary). */
  void assign(sf_status code, std::string_view first, std::string_view second = {}) noexcept {
    err_.code = code;
    std::size_t used = 0;
    for (std::string_view part : {first, second}) {
      std::size_t n = part.size();
      if (n > sizeof err_.message - 1 - used) {
        n = sizeof err_.message - 1 - used;
        // Do not end inside a multi-byte character.
        while (n > 0 && (static_cast<unsigned char>(part[n]) & 0xC0) == 0x80) --n;
      }
      if (n > 0) std::memcpy(err_.message + used, part.data(), n);
      used += n;
    }
    err_.message[used] = '\0';
  }

  /** The sf_error to pass to a C function as its `err` argument. */
  sf_error *c_error() noexcept { return &err_; }
  /** The sf_error itself (code and message). */
  const sf_error &native() const noexcept { return err_; }

 private:
  sf_error err_;
};

/**
 * What the throwing form throws: a std::runtime_error whose what() is the library's message
 * and whose status() is the sf_status code. Thrown only for a real failure, never for absence.
 */
class Error : public std::runtime_error {
 public:
  explicit Error(const Status &status) : std::runtime_error(status.message()), status_(status.code()) {}
  Error(sf_status status, const std::string &message) : std::runtime_error(message), status_(status) {}

  /** The sf_status code: SF_INVALID_ARGUMENT, SF_CONNECTION, ..., SF_INTERNAL. */
  sf_status status() const noexcept { return status_; }
  /** The code's name, "SF_TIMEOUT", ...; static storage. */
  const char *status_name() const noexcept { return sf_status_name(status_); }
  /** The code as a std::error_code of error_category(). */
  std::error_code code() const noexcept { return {status_, error_category()}; }

 private:
  sf_status status_;
};

/* ---- argument views ---- */

namespace detail {

template <class Range, class = void>
struct is_name_range : std::false_type {};
template <class Range>
struct is_name_range<Range, std::void_t<decltype(std::begin(std::declval<const Range &>())),
                                        decltype(std::end(std::declval<const Range &>()))>>
    : std::bool_constant<std::is_convertible_v<decltype(*std::begin(std::declval<const Range &>())),
                                               std::string_view> &&
                         !std::is_convertible_v<const Range &, std::string_view>> {};

template <class Range, class = void>
struct is_candidate_range : std::false_type {};
template <class Range>
struct is_candidate_range<Range, std::void_t<decltype(std::data(std::declval<const Range &>())),
                                             decltype(std::size(std::declval<const Range &>()))>>
    : std::is_convertible<decltype(std::data(std::declval<const Range &>())), const Candidate *> {};

}  // namespace detail

/**
 * A view of a list of names (services, uids, URLs): any range whose elements convert to
 * std::string_view (std::vector<std::string>, std::array<const char *, N>, a std::set, ...), or
 * a braced list of strings. Non-owning, like std::string_view: pass it to a call, do not keep it.
 */
class NameList {
 public:
  using Visit = void (*)(void *context, std::string_view name);

  // The braced list's array lives until the end of the call's full-expression, as the view does.
  NameList(std::initializer_list<std::string_view> names) noexcept : list_(names), size_(names.size()) {}

  template <class Range, std::enable_if_t<detail::is_name_range<Range>::value, int> = 0>
  NameList(const Range &names) noexcept  // NOLINT: converts implicitly on purpose
      : range_(&names),
        size_(static_cast<std::size_t>(std::distance(std::begin(names), std::end(names)))),
        each_(&each_of<Range>) {}

  std::size_t size() const noexcept { return size_; }

  /** Calls visit(context, name) for each name, in order. */
  void for_each(void *context, Visit visit) const {
    if (each_ != nullptr) {
      each_(range_, context, visit);
    } else {
      for (std::string_view name : list_) visit(context, name);
    }
  }

 private:
  template <class Range>
  static void each_of(const void *range, void *context, Visit visit) {
    for (const auto &name : *static_cast<const Range *>(range)) visit(context, std::string_view(name));
  }

  std::initializer_list<std::string_view> list_;
  const void *range_ = nullptr;
  std::size_t size_ = 0;
  void (*each_)(const void *, void *, Visit) = nullptr;
};

/**
 * A view of compute_linked_pod's candidates: a contiguous range of Candidate (std::vector,
 * std::array, C array, std::span), a pointer and a count, a braced list, or the two parallel
 * arrays of the C function (pods[i] has load loads[i]; passed on without a copy). Non-owning,
 * like std::string_view: pass it to a call, do not keep it.
 */
class Candidates {
 public:
  /** No candidates: compute_linked_pod then only reads the existing link. */
  Candidates() noexcept = default;
  Candidates(const Candidate *candidates, std::size_t count) noexcept
      : candidates_(candidates), count_(count) {}
  Candidates(std::initializer_list<Candidate> candidates) noexcept
      : list_(candidates), count_(candidates.size()) {}
  template <class Range, std::enable_if_t<detail::is_candidate_range<Range>::value, int> = 0>
  Candidates(const Range &candidates) noexcept  // NOLINT: converts implicitly on purpose
      : candidates_(std::data(candidates)), count_(std::size(candidates)) {}
  /** The C layout: count pods and their count loads. */
  Candidates(const std::int32_t *pods, const std::int64_t *loads, std::size_t count) noexcept
      : pods_(pods), loads_(loads), count_(count) {}

  std::size_t size() const noexcept { return count_; }

 private:
  friend class Executor;
  /** The pairs, or nullptr for the parallel arrays. */
  const Candidate *pairs() const noexcept { return list_.size() > 0 ? list_.begin() : candidates_; }
  std::initializer_list<Candidate> list_;  // keeps a braced list's array for the call
  const Candidate *candidates_ = nullptr;
  const std::int32_t *pods_ = nullptr;
  const std::int64_t *loads_ = nullptr;
  std::size_t count_ = 0;
};

namespace detail {

/** Bytes of NUL-terminated copies a call keeps on its stack before allocating. */
inline constexpr std::size_t inline_text = 1024;
/** Entries of a list of names a call keeps on its stack before allocating. */
inline constexpr std::size_t inline_names = 32;
/** Candidates a call converts on its stack before allocating. */
inline constexpr std::size_t inline_candidates = 64;

inline void nul_byte(Status &status, std::string_view what) noexcept {
  status.assign(SF_INVALID_ARGUMENT, what, " holds a NUL byte, which a C string cannot carry");
}

/** N string_views as NUL-terminated copies, on the stack up to inline_text bytes in all. */
template <std::size_t N>
class CStrings {
 public:
  explicit CStrings(const std::string_view (&args)[N]) {
    std::size_t total = 0;
    for (std::string_view arg : args) total += arg.size() + 1;
    char *out = inline_;
    if (total > sizeof inline_) {
      heap_.reset(new char[total]);
      out = heap_.get();
    }
    for (std::size_t i = 0; i < N; ++i) {
      const std::string_view arg = args[i];
      ptrs_[i] = out;
      if (!arg.empty()) {
        if (nul_ == N && std::memchr(arg.data(), '\0', arg.size()) != nullptr) nul_ = i;
        std::memcpy(out, arg.data(), arg.size());
      }
      out[arg.size()] = '\0';
      out += arg.size() + 1;
    }
  }
  CStrings(const CStrings &) = delete;
  CStrings &operator=(const CStrings &) = delete;

  const char *operator[](std::size_t i) const noexcept { return ptrs_[i]; }

  /** True when every argument became a C string; else the Status says which did not. */
  bool check(const char *const (&names)[N], Status &status) const noexcept {
    if (nul_ == N) return true;
    nul_byte(status, names[nul_]);
    return false;
  }

 private:
  char inline_[inline_text];
  std::unique_ptr<char[]> heap_;
  const char *ptrs_[N];
  std::size_t nul_ = N;
};

/** A NameList as an array of NUL-terminated copies, on the stack for the usual sizes. */
class CStringList {
 public:
  explicit CStringList(const NameList &names) : count_(names.size()) {
    std::size_t total = 0;
    names.for_each(&total, [](void *context, std::string_view name) {
      *static_cast<std::size_t *>(context) += name.size() + 1;
    });
    text_ = inline_text_;
    if (total > sizeof inline_text_) {
      heap_text_.reset(new char[total]);
      text_ = heap_text_.get();
    }
    ptrs_ = inline_ptrs_;
    if (count_ > inline_names) {
      heap_ptrs_.reset(new const char *[count_]);
      ptrs_ = heap_ptrs_.get();
    }
    Fill fill{this, text_, 0};
    names.for_each(&fill, [](void *context, std::string_view name) {
      Fill &f = *static_cast<Fill *>(context);
      if (f.index == f.list->count_) return;  // a range that grew meanwhile: ignore the rest
      f.list->ptrs_[f.index] = f.out;
      if (!name.empty()) {
        if (f.list->nul_ == npos && std::memchr(name.data(), '\0', name.size()) != nullptr) f.list->nul_ = f.index;
        std::memcpy(f.out, name.data(), name.size());
      }
      f.out[name.size()] = '\0';
      f.out += name.size() + 1;
      ++f.index;
    });
    count_ = fill.index;
  }
  CStringList(const CStringList &) = delete;
  CStringList &operator=(const CStringList &) = delete;

  const char *const *data() const noexcept { return count_ > 0 ? ptrs_ : nullptr; }
  std::size_t size() const noexcept { return count_; }

  /** True when every name became a C string; else the Status names the first that did not. */
  bool check(const char *what, Status &status) const {
    if (nul_ == npos) return true;
    std::string where = std::string(what) + "[" + std::to_string(nul_) + "]";
    nul_byte(status, where);
    return false;
  }

 private:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  struct Fill {
    CStringList *list;
    char *out;
    std::size_t index;
  };
  char inline_text_[inline_text];
  const char *inline_ptrs_[inline_names];
  std::unique_ptr<char[]> heap_text_;
  std::unique_ptr<const char *[]> heap_ptrs_;
  char *text_ = nullptr;
  const char **ptrs_ = nullptr;
  std::size_t count_;
  std::size_t nul_ = npos;
};

/** Owns a C object: frees it with `Free` (which accepts NULL) when destroyed or replaced. */
template <class T, void (*Free)(T *)>
struct Freer {
  void operator()(T *object) const noexcept { Free(object); }
};
template <class T, void (*Free)(T *)>
using Owned = std::unique_ptr<T, Freer<T, Free>>;

inline std::optional<std::int32_t> pod_or_none(std::int32_t pod) noexcept {
  return pod == SF_NO_POD ? std::nullopt : std::optional<std::int32_t>(pod);
}

#if STATEFUL_EXECUTOR_EXCEPTIONS
/** Throws the Error of a failed Status. */
inline void check(const Status &status) {
  if (!status.ok()) throw Error(status);
}

/** Every throwing form: runs the non-throwing form `call(status)` and throws its failure. */
template <class Call>
auto or_throw(Call &&call) {
  Status status;
  if constexpr (std::is_void_v<decltype(call(status))>) {
    call(status);
    check(status);
  } else {
    auto result = call(status);
    check(status);
    return result;
  }
}
#endif

inline std::map<std::int32_t, std::string> take_pod_states(sf_pod_states *states) {
  std::unique_ptr<sf_pod_states, void (*)(sf_pod_states *)> owner(states, &sf_pod_states_free);
  std::map<std::int32_t, std::string> out;
  const std::size_t n = sf_pod_states_len(states);
  for (std::size_t i = 0; i < n; ++i) {
    // Entries come sorted by pod: each goes at the end.
    out.emplace_hint(out.end(), sf_pod_states_pod(states, i), sf_pod_states_state(states, i));
  }
  return out;
}

inline std::map<std::string, std::int32_t> take_service_links(sf_service_links *links) {
  std::unique_ptr<sf_service_links, void (*)(sf_service_links *)> owner(links, &sf_service_links_free);
  std::map<std::string, std::int32_t> out;
  const std::size_t n = sf_service_links_len(links);
  for (std::size_t i = 0; i < n; ++i) {
    // Entries come sorted bytewise by name, as std::string compares: each goes at the end.
    out.emplace_hint(out.end(), sf_service_links_service(links, i), sf_service_links_pod(links, i));
  }
  return out;
}

inline std::optional<std::string> take_string(char *text) {
  std::unique_ptr<char, void (*)(char *)> owner(text, &sf_string_free);
  return text == nullptr ? std::nullopt : std::optional<std::string>(text);
}

/* The logger: one callable at a time, owned here, freed once sf_set_logger has replaced it
 * (when sf_set_logger returns, no call of the previous callback is still running). */
struct LoggerBase {
  virtual ~LoggerBase() = default;
  virtual void log(LogLevel level, std::string_view target, std::string_view message) noexcept = 0;
};

template <class F>
struct Logger final : LoggerBase {
  template <class G>
  explicit Logger(G &&g) : fn(std::forward<G>(g)) {}
  void log(LogLevel level, std::string_view target, std::string_view message) noexcept override {
#if STATEFUL_EXECUTOR_EXCEPTIONS
    // An exception must not unwind into the library's threads: it is dropped with the record.
    try {
      fn(level, target, message);
    } catch (...) {
    }
#else
    fn(level, target, message);
#endif
  }
  F fn;
};

struct LoggerSlot {
  std::mutex mutex;
  std::unique_ptr<LoggerBase> current;
};

/** Never destroyed: the library's threads may log during static destruction, after which a
 *  destroyed slot would be freed memory (it stays reachable, so leak checkers do not report it). */
inline LoggerSlot &logger_slot() {
  static LoggerSlot *slot = new LoggerSlot;
  return *slot;
}

/** True on a thread while it runs the log callable: set_logger there would wait for itself. */
inline bool &in_log_callback() noexcept {
  static thread_local bool inside = false;
  return inside;
}

inline void log_trampoline(void *user_data, std::int32_t level, const char *target, const char *message) {
  struct Inside {
    Inside() noexcept { in_log_callback() = true; }
    ~Inside() { in_log_callback() = false; }
  } inside;
  static_cast<LoggerBase *>(user_data)->log(static_cast<LogLevel>(level), target != nullptr ? target : "",
                                             message != nullptr ? message : "");
}

inline void replace_logger(std::unique_ptr<LoggerBase> next, LogLevel max_level, Status &status) {
  if (in_log_callback()) {
    status.assign(SF_INVALID_ARGUMENT, "set_logger called from inside a log callback");
    return;
  }
  LoggerSlot &slot = logger_slot();
  std::lock_guard<std::mutex> lock(slot.mutex);
  sf_log_fn fn = next != nullptr ? &log_trampoline : nullptr;
  if (sf_set_logger(fn, next.get(), static_cast<std::int32_t>(max_level), status.c_error()) != SF_OK) return;
  slot.current = std::move(next);  // the previous callable: no call of it runs any more
}

}  // namespace detail

/* ---- logging ---- */

/**
 * Sends the library's log records at `max_level` and more severe to `fn`, any callable as
 * `fn(LogLevel level, std::string_view target, std::string_view message)` (a lambda, a
 * std::function, a functor; it is moved or copied into the library's keeping). Process-wide: it
 * replaces the previous callable, which is destroyed once no call of it runs any more.
 *
 * `fn` is called from any thread, the library's pool threads included, possibly from several at
 * once: make it thread-safe. The strings are valid only during the call. An exception it throws
 * is dropped with the record (it must not unwind into the library). It must not call set_logger
 * or clear_logger (they fail there with SF_INVALID_ARGUMENT). Fails with SF_CONFIG when another
 * Rust logger owns the process's `log` facade, SF_INVALID_ARGUMENT as above. Thread-safe.
 * The callable is kept in this header's inline state: in a process where several shared
 * objects each hide their own copy of it, call set_logger from one of them only.
 */
template <class F>
void set_logger(F &&fn, LogLevel max_level, Status &status) {
  static_assert(std::is_invocable_v<std::decay_t<F> &, LogLevel, std::string_view, std::string_view>,
                "set_logger: fn must be callable as fn(LogLevel, std::string_view target, std::string_view message)");
  status.clear();
  detail::replace_logger(std::make_unique<detail::Logger<std::decay_t<F>>>(std::forward<F>(fn)), max_level, status);
}

/** Turns the library's logging off and destroys the callable set_logger was given. Thread-safe. */
inline void clear_logger(Status &status) {
  status.clear();
  detail::replace_logger(nullptr, LogLevel::error, status);
}

#if STATEFUL_EXECUTOR_EXCEPTIONS
/** set_logger, throwing Error on failure. */
template <class F>
void set_logger(F &&fn, LogLevel max_level = LogLevel::warn) {
  detail::or_throw([&](Status &status) { set_logger(std::forward<F>(fn), max_level, status); });
}

/** clear_logger, throwing Error on failure. */
inline void clear_logger() {
  detail::or_throw([&](Status &status) { clear_logger(status); });
}
#endif

/* ---- configuration ---- */

/**
 * Where Redis is and how the pool behaves: owns an sf_config (freed by the destructor).
 * Move-only. Create it with standalone(), cluster() or sentinel(), adjust it with the setters,
 * which return *this so they chain, and give it to Executor::open (it may be destroyed right
 * after). Defaults: pool of 16 connections, none kept idle, 1000 ms connect, command and pool
 * wait timeouts, auto-pipelining on.
 *
 * Setters in the non-throwing form do nothing when the Status they are given already holds an
 * error, so a chain reports its first failure:
 *   Status st;
 *   Config cfg = Config::standalone(url, st);
 *   cfg.set_pool_max_size(8, st).set_command_timeout_ms(300, st);
 *   if (!st.ok()) ...
 * A failed setter leaves the config unchanged. Not thread-safe while being changed.
 */
class Config {
 public:
  /** An empty config: opening it fails with SF_INVALID_ARGUMENT. */
  Config() noexcept = default;
  /** Adopts a config from the C API (or nullptr); the Config frees it (sf_config_free). */
  explicit Config(sf_config *adopted) noexcept : cfg_(adopted) {}
  /** Moves leave the source empty; move-assignment frees the target's own config first. */
  Config(Config &&other) noexcept = default;
  Config &operator=(Config &&other) noexcept = default;

  /** True unless empty (default-constructed, moved from, or a failed factory's result). */
  explicit operator bool() const noexcept { return cfg_ != nullptr; }
  /** The C config, still owned by this object (for C functions that take one). */
  sf_config *native_handle() const noexcept { return cfg_.get(); }
  /** Gives up ownership: the caller frees the result with sf_config_free. */
  sf_config *release() noexcept { return cfg_.release(); }

  /** One server (sf_config_new): "redis://[user:password@]host:port[/db]", "rediss://..." (TLS)
   *  or "unix:///path". Nothing is connected yet. SF_CONFIG for a malformed URL (the message
   *  never shows the password). On failure returns an empty Config. */
  [[nodiscard]] static Config standalone(std::string_view url, Status &status) {
    status.clear();
    detail::CStrings<1> s({url});
    if (!s.check({"url"}, status)) return Config();
    sf_config *cfg = nullptr;
    sf_config_new(s[0], &cfg, status.c_error());
    return Config(cfg);
  }

  /** A Redis Cluster (sf_config_new_cluster): URLs of any reachable subset of its nodes, all
   *  with the same scheme and credentials. SF_CONFIG for none, a malformed URL, a unix socket, a
   *  database other than 0, or mixed schemes or credentials. */
  [[nodiscard]] static Config cluster(const NameList &seed_urls, Status &status) {
    status.clear();
    detail::CStringList urls(seed_urls);
    if (!urls.check("seed_urls", status)) return Config();
    sf_config *cfg = nullptr;
    sf_config_new_cluster(urls.data(), urls.size(), &cfg, status.c_error());
    return Config(cfg);
  }

  /** A primary monitored by Redis Sentinel (sf_config_new_sentinel): the sentinels' URLs and the
   *  name they monitor the primary under; the executor follows failovers. SF_CONFIG for no URL,
   *  a malformed one, or an empty master name or one holding spaces or control characters. */
  [[nodiscard]] static Config sentinel(const NameList &sentinel_urls, std::string_view master_name,
                                       Status &status) {
    status.clear();
    detail::CStringList urls(sentinel_urls);
    detail::CStrings<1> s({master_name});
    if (!urls.check("sentinel_urls", status) || !s.check({"master_name"}, status)) return Config();
    sf_config *cfg = nullptr;
    sf_config_new_sentinel(urls.data(), urls.size(), s[0], &cfg, status.c_error());
    return Config(cfg);
  }

  /** Largest number of pooled connections (default 16; 1..10000, at least min idle). */
  Config &set_pool_max_size(std::uint32_t max_size, Status &status) {
    if (status.ok()) sf_config_set_pool_max_size(cfg_.get(), max_size, status.c_error());
    return *this;
  }
  /** Idle connections kept open in advance (default 0; at most max size). */
  Config &set_pool_min_idle(std::uint32_t min_idle, Status &status) {
    if (status.ok()) sf_config_set_pool_min_idle(cfg_.get(), min_idle, status.c_error());
    return *this;
  }
  /** Longest time to open one connection: connect, TLS and handshake (default 1000; not 0). */
  Config &set_connect_timeout_ms(std::uint32_t ms, Status &status) {
    if (status.ok()) sf_config_set_connect_timeout_ms(cfg_.get(), ms, status.c_error());
    return *this;
  }
  /** Longest time one command may take, else SF_TIMEOUT (default 1000; not 0). */
  Config &set_command_timeout_ms(std::uint32_t ms, Status &status) {
    if (status.ok()) sf_config_set_command_timeout_ms(cfg_.get(), ms, status.c_error());
    return *this;
  }
  /** Longest wait for a free pooled connection, else SF_POOL_TIMEOUT (default 1000; not 0). */
  Config &set_pool_wait_timeout_ms(std::uint32_t ms, Status &status) {
    if (status.ok()) sf_config_set_pool_wait_timeout_ms(cfg_.get(), ms, status.c_error());
    return *this;
  }
  /** Auto-pipelining on or off (default on, or as the environment's SF_PIPELINING says). */
  Config &set_pipelining(bool enabled, Status &status) {
    if (status.ok()) sf_config_set_pipelining(cfg_.get(), enabled, status.c_error());
    return *this;
  }
  /** With pipelining on: calls in flight at once for a call to use the shared connection
   *  (default 12; 1: every call; not 0). */
  Config &set_pipelining_min_in_flight(std::uint32_t calls, Status &status) {
    if (status.ok()) sf_config_set_pipelining_min_in_flight(cfg_.get(), calls, status.c_error());
    return *this;
  }
  /** Sentinel only: the primary's credentials when they differ from the sentinels'.
   *  std::nullopt username: the `default` user; std::nullopt password: none. SF_CONFIG for a
   *  config that is not a sentinel one. The strings are copied. */
  Config &set_sentinel_master_auth(std::optional<std::string_view> username,
                                   std::optional<std::string_view> password, Status &status) {
    if (!status.ok()) return *this;
    detail::CStrings<2> s({username.value_or(std::string_view()), password.value_or(std::string_view())});
    if (!s.check({"username", "password"}, status)) return *this;
    sf_config_set_sentinel_master_auth(cfg_.get(), username ? s[0] : nullptr, password ? s[1] : nullptr,
                                       status.c_error());
    return *this;
  }
  /** A null pointer is not "none" here (it would be read as a string): say std::nullopt. */
  template <class U, class P,
            std::enable_if_t<std::is_null_pointer_v<std::decay_t<U>> || std::is_null_pointer_v<std::decay_t<P>>,
                             int> = 0>
  Config &set_sentinel_master_auth(U &&username, P &&password, Status &status) = delete;
  /** TLS: trust only the CA certificates of this PEM file (read now; SF_CONFIG when missing,
   *  unreadable or without a certificate). */
  Config &set_tls_ca_file(std::string_view path, Status &status) {
    if (!status.ok()) return *this;
    detail::CStrings<1> s({path});
    if (s.check({"path"}, status)) sf_config_set_tls_ca_file(cfg_.get(), s[0], status.c_error());
    return *this;
  }
  /** TLS: present this client certificate chain and private key (PEM files, read now). */
  Config &set_tls_client_cert(std::string_view cert_path, std::string_view key_path, Status &status) {
    if (!status.ok()) return *this;
    detail::CStrings<2> s({cert_path, key_path});
    if (s.check({"cert_path", "key_path"}, status))
      sf_config_set_tls_client_cert(cfg_.get(), s[0], s[1], status.c_error());
    return *this;
  }
  /** The client-side cache of reads (sf_config_set_client_cache): up to max_entries answers,
   *  each for at most max_age_ms (and never past its key's TTL), kept coherent by Redis's
   *  invalidations; max_entries 0 turns it off (the default). SF_INVALID_ARGUMENT for
   *  max_age_ms 0 with max_entries not 0. */
  Config &set_client_cache(std::uint32_t max_entries, std::uint32_t max_age_ms, Status &status) {
    if (status.ok()) sf_config_set_client_cache(cfg_.get(), max_entries, max_age_ms, status.c_error());
    return *this;
  }

#if STATEFUL_EXECUTOR_EXCEPTIONS
  /* The throwing forms: the same, throwing Error on failure. */
  [[nodiscard]] static Config standalone(std::string_view url) {
    return detail::or_throw([&](Status &status) { return standalone(url, status); });
  }
  [[nodiscard]] static Config cluster(const NameList &seed_urls) {
    return detail::or_throw([&](Status &status) { return cluster(seed_urls, status); });
  }
  [[nodiscard]] static Config sentinel(const NameList &sentinel_urls, std::string_view master_name) {
    return detail::or_throw([&](Status &status) { return sentinel(sentinel_urls, master_name, status); });
  }
  Config &set_pool_max_size(std::uint32_t max_size) {
    return checked([&](Status &s) { set_pool_max_size(max_size, s); });
  }
  Config &set_pool_min_idle(std::uint32_t min_idle) {
    return checked([&](Status &s) { set_pool_min_idle(min_idle, s); });
  }
  Config &set_connect_timeout_ms(std::uint32_t ms) {
    return checked([&](Status &s) { set_connect_timeout_ms(ms, s); });
  }
  Config &set_command_timeout_ms(std::uint32_t ms) {
    return checked([&](Status &s) { set_command_timeout_ms(ms, s); });
  }
  Config &set_pool_wait_timeout_ms(std::uint32_t ms) {
    return checked([&](Status &s) { set_pool_wait_timeout_ms(ms, s); });
  }
  Config &set_pipelining(bool enabled) {
    return checked([&](Status &s) { set_pipelining(enabled, s); });
  }
  Config &set_pipelining_min_in_flight(std::uint32_t calls) {
    return checked([&](Status &s) { set_pipelining_min_in_flight(calls, s); });
  }
  Config &set_sentinel_master_auth(std::optional<std::string_view> username,
                                   std::optional<std::string_view> password) {
    return checked([&](Status &s) { set_sentinel_master_auth(username, password, s); });
  }
  template <class U, class P,
            std::enable_if_t<std::is_null_pointer_v<std::decay_t<U>> || std::is_null_pointer_v<std::decay_t<P>>,
                             int> = 0>
  Config &set_sentinel_master_auth(U &&username, P &&password) = delete;
  Config &set_tls_ca_file(std::string_view path) {
    return checked([&](Status &s) { set_tls_ca_file(path, s); });
  }
  Config &set_tls_client_cert(std::string_view cert_path, std::string_view key_path) {
    return checked([&](Status &s) { set_tls_client_cert(cert_path, key_path, s); });
  }
  Config &set_client_cache(std::uint32_t max_entries, std::uint32_t max_age_ms) {
    return checked([&](Status &s) { set_client_cache(max_entries, max_age_ms, s); });
  }

 private:
  template <class Set>
  Config &checked(Set set) {
    detail::or_throw([&](Status &status) { set(status); });
    return *this;
  }
#endif

 private:
  detail::Owned<sf_config, &sf_config_free> cfg_;
};

/* ---- packed results ---- */

/**
 * The result of a packed read (get_service_state_packed, get_workload_states_packed,
 * get_link_services_packed): its entries in one buffer that this object keeps and reuses, so a
 * Packed reused for call after call reads without any allocation once its buffer is big enough
 * (it grows to fit the largest result seen). Iterate it for `Entry{key, text}`; the texts are
 * views into the buffer, valid until the next read into this Packed, clear() or destruction.
 * Move-only; not thread-safe (one per thread).
 */
class Packed {
 public:
  struct Entry {
    /** The pod (service states, link services) or the index in the input (workload states). */
    std::int32_t key;
    /** The state or service name; std::nullopt for an absent workload state. */
    std::optional<std::string_view> text;
  };

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Entry;
    using difference_type = std::ptrdiff_t;
    using pointer = const Entry *;
    using reference = const Entry &;

    iterator() noexcept = default;
    reference operator*() const noexcept { return entry_; }
    pointer operator->() const noexcept { return &entry_; }
    iterator &operator++() noexcept {
      at_ = next_;
      read();
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator before = *this;
      ++*this;
      return before;
    }
    friend bool operator==(const iterator &a, const iterator &b) noexcept { return a.at_ == b.at_; }
    friend bool operator!=(const iterator &a, const iterator &b) noexcept { return !(a == b); }

   private:
    friend class Packed;
    iterator(const sf_packed *packed, std::size_t at) noexcept : packed_(packed), at_(at), next_(at) {
      if (at_ < packed_->size) read();
    }
    void read() noexcept {
      const char *text = nullptr;
      std::size_t length = 0;
      if (sf_packed_next(packed_, &next_, &entry_.key, &text, &length)) {
        entry_.text = text != nullptr ? std::optional<std::string_view>(std::string_view(text,
                                                                                         length)) : std::nullopt;
      } else {
        at_ = next_ = packed_->size;  // the end (or bytes that are not a whole entry)
      }
    }
    const sf_packed *packed_ = nullptr;
    std::size_t at_ = 0;
    std::size_t next_ = 0;
    Entry entry_{SF_NO_POD, std::nullopt};
  };

  Packed() noexcept = default;
  /** With a buffer of `bytes` already allocated. */
  explicit Packed(std::size_t bytes) { reserve(bytes); }
  Packed(Packed &&other) noexcept
      : buffer_(std::move(other.buffer_)), capacity_(std::exchange(other.capacity_, 0)), result_(other.result_) {
    other.result_ = sf_packed{};
  }
  Packed &operator=(Packed &&other) noexcept {
    if (this != &other) {
      sf_packed_free(&result_);
      buffer_ = std::move(other.buffer_);
      capacity_ = std::exchange(other.capacity_, 0);
      result_ = other.result_;
      other.result_ = sf_packed{};
    }
    return *this;
  }
  Packed(const Packed &) = delete;
  Packed &operator=(const Packed &) = delete;
  ~Packed() { sf_packed_free(&result_); }

  /** The number of entries. */
  std::size_t size() const noexcept { return result_.count; }
  bool empty() const noexcept { return result_.count == 0; }
  iterator begin() const noexcept { return iterator(&result_, 0); }
  iterator end() const noexcept { return iterator(&result_, result_.size); }

  /** Grows the buffer to at least `bytes` (never shrinks it); forgets the entries. */
  void reserve(std::size_t bytes) {
    if (bytes <= capacity_) return;
    clear();
    buffer_.reset(new std::uint8_t[bytes]);
    capacity_ = bytes;
  }
  /** The buffer's size in bytes. */
  std::size_t capacity() const noexcept { return capacity_; }
  /** Forgets the entries (frees the library's block if the last result needed one). */
  void clear() noexcept { sf_packed_free(&result_); }
  /** The C result (entries as the C API documents them). */
  const sf_packed &native() const noexcept { return result_; }

 private:
  friend class Executor;
  /** Before a read: the previous result goes. */
  std::uint8_t *prepare() noexcept {
    sf_packed_free(&result_);
    return buffer_.get();
  }
  /** After a read: a result that did not fit came in a block of the library's; the buffer grows
   *  now so that the next read of that size fits. */
  void adopt() {
    if (result_.allocated == nullptr || result_.size <= capacity_) return;
    std::size_t bytes = capacity_ * 2 > result_.size ? capacity_ * 2 : result_.size;
    buffer_.reset(new std::uint8_t[bytes]);
    capacity_ = bytes;
  }

  std::unique_ptr<std::uint8_t[]> buffer_;
  std::size_t capacity_ = 0;
  sf_packed result_{};
};

/* ---- batches ---- */

/**
 * Independent operations run together by Executor::execute_batch (sf_execute_batch): on one
 * server in one round trip, each with its own outcome exactly as its single call would give.
 * The operations are concurrent, not a sequence: none may depend on another's effect.
 *
 *   Batch batch;
 *   auto pod = batch.get_linked_pod("prod", "user-1", "chat");  // Batch::Entry<std::optional<int32_t>>
 *   auto set = batch.set_workload_state("prod", "chat", "Available");
 *   ex.execute_batch(batch);
 *   std::optional<int32_t> p = batch.get(pod);   // throws Error if that entry failed
 *   batch.get(set);                              // void: throws if it failed
 *
 * Each adder copies its strings into the batch (one growing buffer) and returns a typed handle
 * to its entry; after execute_batch, get(handle) gives the entry's result as its single call
 * returns it (or its Status). A string holding a NUL byte makes that entry alone fail with
 * SF_INVALID_ARGUMENT. The batch owns its outcomes (freed when it is cleared, destroyed or
 * executed again); get() copies them out. clear() empties it for reuse and keeps its memory.
 * Move-only; not thread-safe (one batch per call at a time).
 */
class Batch {
 public:
  /** A handle to one entry; T is what get() returns for it. */
  template <class T>
  class Entry {
   public:
    std::size_t index() const noexcept { return index_; }

   private:
    friend class Batch;
    explicit Entry(std::size_t index) noexcept : index_(index) {}
    std::size_t index_;
  };

  Batch() = default;
  Batch(Batch &&other) noexcept
      : ops_(std::move(other.ops_)), meta_(std::move(other.meta_)), text_(std::move(other.text_)),
        executed_(std::exchange(other.executed_, false)) {
    other.ops_.clear();
    other.meta_.clear();
  }
  Batch &operator=(Batch &&other) noexcept {
    if (this != &other) {
      release_outcomes();
      ops_ = std::move(other.ops_);
      meta_ = std::move(other.meta_);
      text_ = std::move(other.text_);
      executed_ = std::exchange(other.executed_, false);
      other.ops_.clear();
      other.meta_.clear();
    }
    return *this;
  }
  Batch(const Batch &) = delete;
  Batch &operator=(const Batch &) = delete;
  ~Batch() { release_outcomes(); }

  /** The number of entries. */
  std::size_t size() const noexcept { return ops_.size(); }
  bool empty() const noexcept { return ops_.empty(); }
  /** Whether execute_batch has run it (since it was built or last cleared). */
  bool executed() const noexcept { return executed_; }
  /** Removes every entry and outcome; keeps the memory for the next batch. */
  void clear() noexcept {
    release_outcomes();
    ops_.clear();
    meta_.clear();
    text_.clear();
  }

  Entry<void> set_service_state(std::string_view ns, std::string_view service, std::int32_t pod,
                                std::string_view state) {
    return add<void>(SF_BATCH_SET_SERVICE_STATE, ns, {}, service, state, pod, 0);
  }
  Entry<std::map<std::int32_t, std::string>> get_service_state(std::string_view ns, std::string_view service) {
    return add<std::map<std::int32_t, std::string>>(SF_BATCH_GET_SERVICE_STATE, ns, {}, service, {}, 0, 0);
  }
  Entry<void> set_workload_state(std::string_view ns, std::string_view service, std::string_view state) {
    return add<void>(SF_BATCH_SET_WORKLOAD_STATE, ns, {}, service, state, 0, 0);
  }
  Entry<std::optional<std::string>> get_workload_state(std::string_view ns, std::string_view service) {
    return add<std::optional<std::string>>(SF_BATCH_GET_WORKLOAD_STATE, ns, {}, service, {}, 0, 0);
  }
  /** The previous pod. */
  Entry<std::optional<std::int32_t>> set_linked_pod(std::string_view ns, std::string_view uid,
                                                    std::string_view service,
                                                    std::int32_t pod, std::int32_t persist_seconds) {
    return add<std::optional<std::int32_t>>(SF_BATCH_SET_LINKED_POD, ns, uid, service, {}, pod, persist_seconds);
  }
  Entry<TrySetResult> try_set_linked_pod(std::string_view ns, std::string_view uid, std::string_view service,
                                         std::int32_t pod, std::int32_t persist_seconds) {
    return add<TrySetResult>(SF_BATCH_TRY_SET_LINKED_POD, ns, uid, service, {}, pod, persist_seconds);
  }
  /** The pod linked now. */
  Entry<std::int32_t> set_linked_pod_if_absent(std::string_view ns, std::string_view uid, std::string_view service,
                                               std::int32_t pod, std::int32_t persist_seconds) {
    return add<std::int32_t>(SF_BATCH_SET_LINKED_POD_IF_ABSENT, ns, uid, service, {}, pod, persist_seconds);
  }
  Entry<std::optional<std::int32_t>> get_linked_pod(std::string_view ns, std::string_view uid,
                                                    std::string_view service) {
    return add<std::optional<std::int32_t>>(SF_BATCH_GET_LINKED_POD, ns, uid, service, {}, 0, 0);
  }
  Entry<std::optional<std::int32_t>> get_linked_pod_if_persist(std::string_view ns, std::string_view uid,
                                                               std::string_view service) {
    return add<std::optional<std::int32_t>>(SF_BATCH_GET_LINKED_POD_IF_PERSIST, ns, uid, service, {}, 0, 0);
  }
  /** Whether a link existed. */
  Entry<bool> remove_linked_pod(std::string_view ns, std::string_view uid, std::string_view service,
                                std::int32_t keep_seconds) {
    return add<bool>(SF_BATCH_REMOVE_LINKED_POD, ns, uid, service, {}, 0, keep_seconds);
  }
  /** Whether it was removed. */
  Entry<bool> remove_linked_pod_with_id(std::string_view ns, std::string_view uid, std::string_view service,
                                        std::int32_t keep_seconds, std::int32_t pod) {
    return add<bool>(SF_BATCH_REMOVE_LINKED_POD_WITH_ID, ns, uid, service, {}, pod, keep_seconds);
  }
  Entry<std::map<std::string, std::int32_t>> get_link_services(std::string_view ns, std::string_view uid) {
    return add<std::map<std::string, std::int32_t>>(SF_BATCH_GET_LINK_SERVICES, ns, uid, {}, {}, 0, 0);
  }
  /** 0.3: whether the link points at `pod` (its expiry extended when temporary). */
  Entry<bool> touch_linked_pod(std::string_view ns, std::string_view uid, std::string_view service, std::int32_t pod,
                               std::int32_t persist_seconds) {
    return add<bool>(SF_BATCH_TOUCH_LINKED_POD, ns, uid, service, {}, pod, persist_seconds);
  }

  /** The outcome of entry `index`: SF_OK, or why it failed (SF_INVALID_ARGUMENT "not executed"
   *  before execute_batch, or for an index out of range). */
  Status status(std::size_t index) const {
    if (index >= ops_.size()) return Status(SF_INVALID_ARGUMENT, "batch entry index out of range");
    if (!executed_) return Status(SF_INVALID_ARGUMENT, "batch not executed yet");
    Status status;
    *status.c_error() = ops_[index].error;
    status.c_error()->code = ops_[index].status;  // the entry's own field is the authority
    return status;
  }
  template <class T>
  Status status(Entry<T> entry) const {
    return status(entry.index());
  }

  /** The result of an entry as its single call returns it; on failure `status` says why and
   *  the result is empty (as the single call's non-throwing form). */
  template <class T>
  T get(Entry<T> entry, Status &status) const {
    status = this->status(entry.index());
    if (status.ok() && !kind_gives<T>(meta_[entry.index()].kind)) {
      status.assign(SF_INVALID_ARGUMENT, "batch entry handle of another batch: the entry's kind differs");
    }
    const sf_batch_op *op = status.ok() ? &ops_[entry.index()] : nullptr;
    if constexpr (std::is_same_v<T, void>) {
      (void)op;
    } else if constexpr (std::is_same_v<T, std::map<std::int32_t, std::string>>) {
      T out;
      if (op == nullptr) return out;
      const std::size_t n = sf_pod_states_len(op->out_states);
      for (std::size_t i = 0; i < n; ++i)
        out.emplace_hint(out.end(), sf_pod_states_pod(op->out_states, i), sf_pod_states_state(op->out_states, i));
      return out;
    } else if constexpr (std::is_same_v<T, std::map<std::string, std::int32_t>>) {
      T out;
      if (op == nullptr) return out;
      const std::size_t n = sf_service_links_len(op->out_links);
      for (std::size_t i = 0; i < n; ++i)
        out.emplace_hint(out.end(), sf_service_links_service(op->out_links, i), sf_service_links_pod(op->out_links,
                                                                                                     i));
      return out;
    } else if constexpr (std::is_same_v<T, std::optional<std::string>>) {
      if (op == nullptr || op->out_text == nullptr) return std::nullopt;
      return std::string(op->out_text);
    } else if constexpr (std::is_same_v<T, std::optional<std::int32_t>>) {
      return op == nullptr ? std::nullopt : detail::pod_or_none(op->out_pod);
    } else if constexpr (std::is_same_v<T, TrySetResult>) {
      return op == nullptr ? TrySetResult{false, SF_NO_POD} : TrySetResult{op->out_flag, op->out_pod};
    } else if constexpr (std::is_same_v<T, std::int32_t>) {
      return op == nullptr ? SF_NO_POD : op->out_pod;
    } else {
      static_assert(std::is_same_v<T, bool>, "not a batch result type");
      return op != nullptr && op->out_flag;
    }
  }

#if STATEFUL_EXECUTOR_EXCEPTIONS
  /** The result of an entry; throws Error with the entry's status when it failed. */
  template <class T>
  T get(Entry<T> entry) const {
    return detail::or_throw([&](Status &status) { return get(entry, status); });
  }
#endif

  /** The C entries (valid until the batch changes; outcomes owned by the batch). */
  const sf_batch_op *native() const noexcept { return ops_.data(); }

 private:
  friend class Executor;
  static constexpr std::uint32_t none = static_cast<std::uint32_t>(-1);
  struct Meta {
    sf_batch_kind kind;        // the operation (ops_[i].kind is 0 while a NUL byte refuses it)
    std::uint32_t text[4];     // offsets of ns, uid, service, state in text_, or none
    const char *nul_argument;  // the argument holding a NUL byte, or nullptr
  };

  template <class T>
  static bool kind_gives(sf_batch_kind kind) noexcept {
    if constexpr (std::is_same_v<T, void>)
      return kind == SF_BATCH_SET_SERVICE_STATE || kind == SF_BATCH_SET_WORKLOAD_STATE;
    else if constexpr (std::is_same_v<T, std::map<std::int32_t, std::string>>)
      return kind == SF_BATCH_GET_SERVICE_STATE;
    else if constexpr (std::is_same_v<T, std::map<std::string, std::int32_t>>)
      return kind == SF_BATCH_GET_LINK_SERVICES;
    else if constexpr (std::is_same_v<T, std::optional<std::string>>)
      return kind == SF_BATCH_GET_WORKLOAD_STATE;
    else if constexpr (std::is_same_v<T, std::optional<std::int32_t>>)
      return kind == SF_BATCH_SET_LINKED_POD || kind == SF_BATCH_GET_LINKED_POD ||
             kind == SF_BATCH_GET_LINKED_POD_IF_PERSIST;
    else if constexpr (std::is_same_v<T, TrySetResult>)
      return kind == SF_BATCH_TRY_SET_LINKED_POD;
    else if constexpr (std::is_same_v<T, std::int32_t>)
      return kind == SF_BATCH_SET_LINKED_POD_IF_ABSENT;
    else
      return kind == SF_BATCH_REMOVE_LINKED_POD || kind == SF_BATCH_REMOVE_LINKED_POD_WITH_ID
             || kind == SF_BATCH_TOUCH_LINKED_POD
          ;
  }

  template <class T>
  Entry<T> add(sf_batch_kind kind, std::string_view ns, std::optional<std::string_view> uid,
               std::optional<std::string_view> service, std::optional<std::string_view> state, std::int32_t pod,
               std::int32_t seconds) {
    static const char *const names[4] = {"ns", "uid", "service", "state"};
    // An executed batch that grows runs again whole: its outcomes go now.
    release_outcomes();
    Meta meta{kind, {none, none, none, none}, nullptr};
    const std::optional<std::string_view> args[4] = {ns, uid, service, state};
    for (std::size_t i = 0; i < 4; ++i) {
      if (!args[i]) continue;
      const std::string_view arg = *args[i];
      if (meta.nul_argument == nullptr && !arg.empty() && std::memchr(arg.data(), '\0', arg.size()) != nullptr)
        meta.nul_argument = names[i];
      meta.text[i] = static_cast<std::uint32_t>(text_.size());
      text_.append(arg.data(), arg.size());
      text_.push_back('\0');
    }
    sf_batch_op op{};
    op.kind = meta.nul_argument == nullptr ? kind : 0;
    op.pod = pod;
    op.seconds = seconds;
    ops_.push_back(op);
    meta_.push_back(meta);
    return Entry<T>(ops_.size() - 1);
  }

  /** Before the call: the strings' addresses (text_ may have moved while it grew). */
  void resolve() noexcept {
    const char *base = text_.data();
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      const std::uint32_t *t = meta_[i].text;
      ops_[i].ns = t[0] != none ? base + t[0] : nullptr;
      ops_[i].uid = t[1] != none ? base + t[1] : nullptr;
      ops_[i].service = t[2] != none ? base + t[2] : nullptr;
      ops_[i].state = t[3] != none ? base + t[3] : nullptr;
    }
  }

  /** After the call: entries refused here for a NUL byte get their own message. */
  void finish() noexcept {
    executed_ = true;
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      if (meta_[i].nul_argument == nullptr || ops_[i].status != SF_INVALID_ARGUMENT) continue;
      Status status;
      detail::nul_byte(status, meta_[i].nul_argument);
      ops_[i].error = status.native();
      ops_[i].status = SF_INVALID_ARGUMENT;
    }
  }

  void release_outcomes() noexcept {
    if (!executed_) return;
    for (sf_batch_op &op : ops_) {
      sf_string_free(op.out_text);
      sf_pod_states_free(op.out_states);
      sf_service_links_free(op.out_links);
      op.out_text = nullptr;
      op.out_states = nullptr;
      op.out_links = nullptr;
    }
    executed_ = false;
  }

  std::vector<sf_batch_op> ops_;
  std::vector<Meta> meta_;
  std::string text_;
  bool executed_ = false;
};

/* ---- the executor ---- */

/**
 * Keeps the routing state of stateful services in Redis: owns an sf_executor (its pool of
 * connections), closed by the destructor. Move-only. Thread-safe: share one per process by
 * reference and call it from any number of threads at once; only destruction, close() and
 * moves must not race with calls.
 *
 * Each operation is the C function of the same name (sf_<name>) with its semantics, argument
 * rules and statuses (see stateful_executor.h); the throwing form throws Error, the form with a
 * trailing Status& reports there and returns an empty value on failure. `pod` arguments are
 * ordinals 0..2147483647; `persist_seconds` is `persistent` (-1) or a link's lifetime in
 * seconds (1..2147483647); `keep_seconds` of the removes is -1 or 0 (delete at once) or the
 * seconds a removed link stays as a temporary one.
 */
class Executor {
 public:
  /** An empty executor: calls fail with SF_INVALID_ARGUMENT. */
  Executor() noexcept = default;
  /** Adopts an executor from the C API (or nullptr); the Executor closes it. */
  explicit Executor(sf_executor *adopted) noexcept : ex_(adopted) {}
  /** Moves leave the source empty; move-assignment closes the target's own executor first. */
  Executor(Executor &&other) noexcept = default;
  Executor &operator=(Executor &&other) noexcept = default;
  /* The destructor closes the executor (sf_executor_close): it returns once the pool's threads
   * have exited. */

  /** Connects, checks the server answers and loads the scripts (sf_executor_open): blocks for
   *  at most about the connect plus the command timeout. SF_CONNECTION, SF_AUTH, SF_TIMEOUT,
   *  SF_REDIS, SF_CONFIG; SF_INVALID_ARGUMENT for an empty config. On failure returns an empty
   *  Executor. The config may be destroyed right after. */
  [[nodiscard]] static Executor open(const Config &config, Status &status) {
    sf_executor *ex = nullptr;
    sf_executor_open(config.native_handle(), &ex, status.c_error());
    return Executor(ex);
  }

  /** Closes now, as the destructor would; the executor is then empty. Not thread-safe: no call
   *  on it may run concurrently or start afterwards (a later call fails with
   *  SF_INVALID_ARGUMENT, as on any empty Executor). */
  void close() noexcept { ex_.reset(); }

  /** True unless empty (default-constructed, moved from, closed, or a failed open's result). */
  explicit operator bool() const noexcept { return ex_ != nullptr; }
  /** The C executor, still owned by this object (for C functions that take one). */
  sf_executor *native_handle() const noexcept { return ex_.get(); }
  /** Gives up ownership: the caller closes the result with sf_executor_close. */
  sf_executor *release() noexcept { return ex_.release(); }

  /** Checks that the server answers (PING). */
  void ping(Status &status) const { sf_ping(ex_.get(), status.c_error()); }

  /** The executor's statistics (sf_executor_stats): no round trip, cheap enough to poll. Zeroed
   *  on failure. */
  Stats stats(Status &status) const {
    Stats out;
    sf_executor_stats(ex_.get(), &out, status.c_error());
    return out;
  }

  /** The extended statistics (sf_executor_stats_ext): the 0.2 figures in `base`, pipelined
   *  calls and the client cache's hits, misses, invalidations, flushes and evictions. */
  StatsExt stats_ext(Status &status) const {
    StatsExt out{};
    out.size = sizeof out;
    sf_executor_stats_ext(ex_.get(), &out, status.c_error());
    return out;
  }

  /* -- pod and workload states -- */

  /** Publishes the state of one pod of a service. */
  void set_service_state(std::string_view ns, std::string_view service, std::int32_t pod, std::string_view state,
                         Status &status) const {
    detail::CStrings<3> s({ns, service, state});
    if (s.check({"ns", "service", "state"}, status))
      sf_set_service_state(ex_.get(), s[0], s[1], pod, s[2], status.c_error());
  }

  /** The states of all pods of a service: pod -> state (empty when it has none). */
  [[nodiscard]] std::map<std::int32_t, std::string> get_service_state(std::string_view ns, std::string_view service,
                                                                      Status &status) const {
    detail::CStrings<2> s({ns, service});
    if (!s.check({"ns", "service"}, status)) return {};
    sf_pod_states *states = nullptr;
    if (sf_get_service_state(ex_.get(), s[0], s[1], &states, status.c_error()) != SF_OK) return {};
    return detail::take_pod_states(states);
  }

  /** get_service_state into a reusable Packed: entries (pod, state) sorted by pod, no
   *  allocation once the Packed's buffer fits. Empty on failure. */
  void get_service_state_packed(std::string_view ns, std::string_view service, Packed &out, Status &status) const {
    std::uint8_t *buffer = out.prepare();
    detail::CStrings<2> s({ns, service});
    if (!s.check({"ns", "service"}, status)) return;
    if (sf_get_service_state_packed(ex_.get(), s[0], s[1], buffer, out.capacity(), &out.result_,
                                    status.c_error()) == SF_OK)
      out.adopt();
  }

  /** Publishes the state of a whole service. */
  void set_workload_state(std::string_view ns, std::string_view service, std::string_view state,
                          Status &status) const {
    detail::CStrings<3> s({ns, service, state});
    if (s.check({"ns", "service", "state"}, status))
      sf_set_workload_state(ex_.get(), s[0], s[1], s[2], status.c_error());
  }

  /** The state of a whole service; std::nullopt when none was published. */
  [[nodiscard]] std::optional<std::string> get_workload_state(std::string_view ns, std::string_view service,
                                                              Status &status) const {
    detail::CStrings<2> s({ns, service});
    if (!s.check({"ns", "service"}, status)) return std::nullopt;
    char *state = nullptr;
    if (sf_get_workload_state(ex_.get(), s[0], s[1], &state, status.c_error()) != SF_OK) return std::nullopt;
    return detail::take_string(state);
  }

  /**
   * The workload states of many services in one round trip: entry i is the state of
   * services[i], std::nullopt where none was published. A vector in input order rather than a
   * map: it is what the C and Rust calls return, so nothing is re-keyed or re-allocated (the
   * caller already holds the names, and zips them with the result), duplicates and the order
   * of the input survive, and absence stays visible per entry. Empty on failure.
   */
  [[nodiscard]] std::vector<std::optional<std::string>> get_workload_states(std::string_view ns,
                                                                            const NameList &services,
                                                                            Status &status) const {
    detail::CStrings<1> s({ns});
    detail::CStringList names(services);
    if (!s.check({"ns"}, status) || !names.check("services", status)) return {};
    struct Owned {  // frees what is not taken yet, also if building the result throws
      std::vector<char *> states;
      ~Owned() {
        for (char *state : states) sf_string_free(state);
      }
    } owned{std::vector<char *>(names.size(), nullptr)};
    if (sf_get_workload_states(ex_.get(), s[0], names.data(), names.size(), owned.states.data(),
                               status.c_error()) != SF_OK)
      return {};
    std::vector<std::optional<std::string>> out;
    out.reserve(owned.states.size());
    for (char *&state : owned.states) out.push_back(detail::take_string(std::exchange(state, nullptr)));
    return out;
  }

  /** get_workload_states into a reusable Packed: entry i has key i and the state of services[i]
   *  (std::nullopt text when absent). Empty on failure. */
  void get_workload_states_packed(std::string_view ns, const NameList &services, Packed &out, Status &status) const {
    std::uint8_t *buffer = out.prepare();
    detail::CStrings<1> s({ns});
    detail::CStringList names(services);
    if (!s.check({"ns"}, status) || !names.check("services", status)) return;
    if (sf_get_workload_states_packed(ex_.get(), s[0], names.data(), names.size(), buffer, out.capacity(),
                                      &out.result_,
                                      status.c_error()) == SF_OK)
      out.adopt();
  }

  /* -- links -- */

  /** Links uid to pod for service whatever was there; returns the previous pod, std::nullopt
   *  when there was none. */
  std::optional<std::int32_t> set_linked_pod(std::string_view ns, std::string_view uid, std::string_view service,
                                             std::int32_t pod, std::int32_t persist_seconds, Status &status) const {
    detail::CStrings<3> s({ns, uid, service});
    if (!s.check(link_args, status)) return std::nullopt;
    std::int32_t previous = SF_NO_POD;
    sf_set_linked_pod(ex_.get(), s[0], s[1], s[2], pod, persist_seconds, &previous, status.c_error());
    return detail::pod_or_none(previous);
  }

  /** Links uid to pod unless a persistent link to a different pod exists: then nothing changes
   *  and the result is {false, that pod}. On failure {false, SF_NO_POD}. */
  TrySetResult try_set_linked_pod(std::string_view ns, std::string_view uid, std::string_view service,
                                  std::int32_t pod, std::int32_t persist_seconds, Status &status) const {
    detail::CStrings<3> s({ns, uid, service});
    TrySetResult result{false, SF_NO_POD};
    if (!s.check(link_args, status)) return result;
    sf_try_set_linked_pod(ex_.get(), s[0], s[1], s[2], pod, persist_seconds, &result.linked, &result.current,
                          status.c_error());
    return result;
  }

  /** Links uid to pod only when it has no link; returns the pod linked now (the existing one,
   *  or pod). Of concurrent callers exactly one writes and all get the same pod. SF_NO_POD on
   *  failure. */
  std::int32_t set_linked_pod_if_absent(std::string_view ns, std::string_view uid, std::string_view service,
                                        std::int32_t pod, std::int32_t persist_seconds, Status &status) const {
    detail::CStrings<3> s({ns, uid, service});
    std::int32_t current = SF_NO_POD;
    if (s.check(link_args, status))
      sf_set_linked_pod_if_absent(ex_.get(), s[0], s[1], s[2], pod, persist_seconds, &current, status.c_error());
    return current;
  }

  /** The pod uid is linked to for service, persistent or temporary; std::nullopt when none. */
  [[nodiscard]] std::optional<std::int32_t> get_linked_pod(std::string_view ns, std::string_view uid,
                                                           std::string_view service, Status &status) const {
    detail::CStrings<3> s({ns, uid, service});
    if (!s.check(link_args, status)) return std::nullopt;
    std::int32_t pod = SF_NO_POD;
    sf_get_linked_pod(ex_.get(), s[0], s[1], s[2], &pod, status.c_error());
    return detail::pod_or_none(pod);
  }

  /** The pod uid is linked to for service only when the link is persistent. */
  [[nodiscard]] std::optional<std::int32_t> get_linked_pod_if_persist(std::string_view ns, std::string_view uid,
                                                                      std::string_view service,
                                                                      Status &status) const {
    detail::CStrings<3> s({ns, uid, service});
    if (!s.check(link_args, status)) return std::nullopt;
    std::int32_t pod = SF_NO_POD;
    sf_get_linked_pod_if_persist(ex_.get(), s[0], s[1], s[2], &pod, status.c_error());
    return detail::pod_or_none(pod);
  }

  /** The linked pods of many uids for service in one round trip, in input order (entry i for
   *  uids[i], std::nullopt where unlinked). Empty on failure. */
  [[nodiscard]] std::vector<std::optional<std::int32_t>> batch_get_linked_pods(std::string_view ns,
                                                                               std::string_view service,
                                                                               const NameList &uids,
                                                                               Status &status) const {
    detail::CStrings<2> s({ns, service});
    detail::CStringList names(uids);
    if (!s.check({"ns", "service"}, status) || !names.check("uids", status)) return {};
    std::vector<std::int32_t> pods(names.size(), SF_NO_POD);
    if (sf_batch_get_linked_pods(ex_.get(), s[0], s[1], names.data(), names.size(), pods.data(),
                                 status.c_error()) != SF_OK)
      return {};
    std::vector<std::optional<std::int32_t>> out;
    out.reserve(pods.size());
    for (std::int32_t pod : pods) out.push_back(detail::pod_or_none(pod));
    return out;
  }

  /** batch_get_linked_pods grouped: pod -> the uids linked to it, in input order; unlinked uids
   *  are left out. Empty on failure. */
  [[nodiscard]] std::map<std::int32_t, std::vector<std::string>> batch_get_linked_pods_by_pod(
      std::string_view ns, std::string_view service, const NameList &uids, Status &status) const {
    detail::CStrings<2> s({ns, service});
    detail::CStringList names(uids);
    if (!s.check({"ns", "service"}, status) || !names.check("uids", status)) return {};
    std::vector<std::int32_t> pods(names.size(), SF_NO_POD);
    if (sf_batch_get_linked_pods(ex_.get(), s[0], s[1], names.data(), names.size(), pods.data(),
                                 status.c_error()) != SF_OK)
      return {};
    std::map<std::int32_t, std::vector<std::string>> out;
    for (std::size_t i = 0; i < pods.size(); ++i)
      if (pods[i] != SF_NO_POD) out[pods[i]].emplace_back(names.data()[i]);
    return out;
  }

  /** Removes uid's link to service (deleted at once for keep_seconds -1 or 0, else kept as a
   *  temporary link for keep_seconds); returns whether a link existed. False on failure. */
  bool remove_linked_pod(std::string_view ns, std::string_view uid, std::string_view service,
                         std::int32_t keep_seconds, Status &status) const {
    detail::CStrings<3> s({ns, uid, service});
    bool removed = false;
    if (s.check(link_args, status))
      sf_remove_linked_pod(ex_.get(), s[0], s[1], s[2], keep_seconds, &removed, status.c_error());
    return removed;
  }

  /** As remove_linked_pod, only when the link points to pod; returns whether it was removed. */
  bool remove_linked_pod_with_id(std::string_view ns, std::string_view uid, std::string_view service,
                                 std::int32_t keep_seconds, std::int32_t pod, Status &status) const {
    detail::CStrings<3> s({ns, uid, service});
    bool removed = false;
    if (s.check(link_args, status))
      sf_remove_linked_pod_with_id(ex_.get(), s[0], s[1], s[2], keep_seconds, pod, &removed, status.c_error());
    return removed;
  }

  /** 0.3 (sf_touch_linked_pod): extends a temporary link only while it points at pod (its TTL
   *  becomes persist_seconds, > 0); a persistent link to pod stays as it is. Returns whether
   *  the link points at pod; a link to another pod, or none, is left alone (false). */
  bool touch_linked_pod(std::string_view ns, std::string_view uid, std::string_view service, std::int32_t pod,
                        std::int32_t persist_seconds, Status &status) const {
    detail::CStrings<3> s({ns, uid, service});
    bool touched = false;
    if (s.check(link_args, status))
      sf_touch_linked_pod(ex_.get(), s[0], s[1], s[2], pod, persist_seconds, &touched, status.c_error());
    return touched;
  }

  /** The persistent links of uid: service -> pod (empty when none). */
  [[nodiscard]] std::map<std::string, std::int32_t> get_link_services(std::string_view ns, std::string_view uid,
                                                                      Status &status) const {
    detail::CStrings<2> s({ns, uid});
    if (!s.check({"ns", "uid"}, status)) return {};
    sf_service_links *links = nullptr;
    if (sf_get_link_services(ex_.get(), s[0], s[1], &links, status.c_error()) != SF_OK) return {};
    return detail::take_service_links(links);
  }

  /** get_link_services into a reusable Packed: entries (pod, service) sorted by service name.
   *  Empty on failure. */
  void get_link_services_packed(std::string_view ns, std::string_view uid, Packed &out, Status &status) const {
    std::uint8_t *buffer = out.prepare();
    detail::CStrings<2> s({ns, uid});
    if (!s.check({"ns", "uid"}, status)) return;
    if (sf_get_link_services_packed(ex_.get(), s[0], s[1], buffer, out.capacity(), &out.result_,
                                    status.c_error()) == SF_OK)
      out.adopt();
  }

  /** Returns uid's existing link for service; without one, links uid to the candidate with the
   *  lowest load (ties: the lowest pod) as set_linked_pod_if_absent does, atomically, and
   *  returns it. No link and no candidates: std::nullopt, nothing written. */
  std::optional<std::int32_t> compute_linked_pod(std::string_view ns, std::string_view uid, std::string_view service,
                                                 std::int32_t persist_seconds, const Candidates &candidates,
                                                 Status &status) const {
    detail::CStrings<3> s({ns, uid, service});
    if (!s.check(link_args, status)) return std::nullopt;
    const std::size_t n = candidates.count_;
    const std::int32_t *pods = candidates.pods_;
    const std::int64_t *loads = candidates.loads_;
    std::int32_t inline_pods[detail::inline_candidates];
    std::int64_t inline_loads[detail::inline_candidates];
    std::unique_ptr<std::int32_t[]> heap_pods;
    std::unique_ptr<std::int64_t[]> heap_loads;
    if (const Candidate *pairs = candidates.pairs()) {
      // The C function takes two parallel arrays: split the pairs.
      std::int32_t *p = inline_pods;
      std::int64_t *l = inline_loads;
      if (n > detail::inline_candidates) {
        heap_pods.reset(new std::int32_t[n]);
        heap_loads.reset(new std::int64_t[n]);
        p = heap_pods.get();
        l = heap_loads.get();
      }
      for (std::size_t i = 0; i < n; ++i) {
        p[i] = pairs[i].pod;
        l[i] = pairs[i].load;
      }
      pods = p;
      loads = l;
    }
    std::int32_t pod = SF_NO_POD;
    sf_compute_linked_pod(ex_.get(), s[0], s[1], s[2], pods, loads, n, persist_seconds, &pod, status.c_error());
    return detail::pod_or_none(pod);
  }

  /* -- many operations at once -- */

  /** Runs every entry of the batch (sf_execute_batch); each entry's outcome is then read from
   *  the batch (Batch::get, Batch::status). Fails only when the batch cannot run at all (an
   *  empty executor): then every entry has that status too. Running a batch again runs every
   *  entry again, after freeing the previous outcomes. */
  void execute_batch(Batch &batch, Status &status) const {
    batch.release_outcomes();
    batch.resolve();
    sf_execute_batch(ex_.get(), batch.ops_.data(), batch.ops_.size(), status.c_error());
    batch.finish();
  }

#if STATEFUL_EXECUTOR_EXCEPTIONS
  /* The throwing forms: the same, throwing Error on failure. */
  [[nodiscard]] static Executor open(const Config &config) {
    return detail::or_throw([&](Status &status) { return open(config, status); });
  }
  void ping() const {
    detail::or_throw([&](Status &status) { ping(status); });
  }
  [[nodiscard]] Stats stats() const {
    return detail::or_throw([&](Status &status) { return stats(status); });
  }
  [[nodiscard]] StatsExt stats_ext() const {
    return detail::or_throw([&](Status &status) { return stats_ext(status); });
  }
  void set_service_state(std::string_view ns, std::string_view service, std::int32_t pod,
                         std::string_view state) const {
    detail::or_throw([&](Status &status) { set_service_state(ns, service, pod, state, status); });
  }
  [[nodiscard]] std::map<std::int32_t, std::string> get_service_state(std::string_view ns,
                                                                      std::string_view service) const {
    return detail::or_throw([&](Status &status) { return get_service_state(ns, service, status); });
  }
  void get_service_state_packed(std::string_view ns, std::string_view service, Packed &out) const {
    detail::or_throw([&](Status &status) { get_service_state_packed(ns, service, out, status); });
  }
  void set_workload_state(std::string_view ns, std::string_view service, std::string_view state) const {
    detail::or_throw([&](Status &status) { set_workload_state(ns, service, state, status); });
  }
  [[nodiscard]] std::optional<std::string> get_workload_state(std::string_view ns, std::string_view service) const {
    return detail::or_throw([&](Status &status) { return get_workload_state(ns, service, status); });
  }
  [[nodiscard]] std::vector<std::optional<std::string>> get_workload_states(std::string_view ns,
                                                                            const NameList &services) const {
    return detail::or_throw([&](Status &status) { return get_workload_states(ns, services, status); });
  }
  void get_workload_states_packed(std::string_view ns, const NameList &services, Packed &out) const {
    detail::or_throw([&](Status &status) { get_workload_states_packed(ns, services, out, status); });
  }
  std::optional<std::int32_t> set_linked_pod(std::string_view ns, std::string_view uid, std::string_view service,
                                             std::int32_t pod, std::int32_t persist_seconds) const {
    return detail::or_throw([&](Status &status) { return set_linked_pod(ns, uid, service, pod, persist_seconds,
                                                                        status); });
  }
  TrySetResult try_set_linked_pod(std::string_view ns, std::string_view uid, std::string_view service,
                                  std::int32_t pod, std::int32_t persist_seconds) const {
    return detail::or_throw([&](Status &status) { return try_set_linked_pod(ns, uid, service, pod, persist_seconds,
                                                                            status); });
  }
  std::int32_t set_linked_pod_if_absent(std::string_view ns, std::string_view uid, std::string_view service,
                                        std::int32_t pod, std::int32_t persist_seconds) const {
    return detail::or_throw([&](Status &status) { return set_linked_pod_if_absent(ns, uid, service, pod,
                                                                                  persist_seconds, status); });
  }
  [[nodiscard]] std::optional<std::int32_t> get_linked_pod(std::string_view ns, std::string_view uid,
                                                           std::string_view service) const {
    return detail::or_throw([&](Status &status) { return get_linked_pod(ns, uid, service, status); });
  }
  [[nodiscard]] std::optional<std::int32_t> get_linked_pod_if_persist(std::string_view ns, std::string_view uid,
                                                                      std::string_view service) const {
    return detail::or_throw([&](Status &status) { return get_linked_pod_if_persist(ns, uid, service, status); });
  }
  [[nodiscard]] std::vector<std::optional<std::int32_t>> batch_get_linked_pods(std::string_view ns,
                                                                               std::string_view service,
                                                                               const NameList &uids) const {
    return detail::or_throw([&](Status &status) { return batch_get_linked_pods(ns, service, uids, status); });
  }
  [[nodiscard]] std::map<std::int32_t, std::vector<std::string>> batch_get_linked_pods_by_pod(
      std::string_view ns, std::string_view service, const NameList &uids) const {
    return detail::or_throw([&](Status &status) { return batch_get_linked_pods_by_pod(ns, service, uids, status); });
  }
  bool remove_linked_pod(std::string_view ns, std::string_view uid, std::string_view service,
                         std::int32_t keep_seconds) const {
    return detail::or_throw([&](Status &status) { return remove_linked_pod(ns, uid, service, keep_seconds,
                                                                           status); });
  }
  bool remove_linked_pod_with_id(std::string_view ns, std::string_view uid, std::string_view service,
                                 std::int32_t keep_seconds, std::int32_t pod) const {
    return detail::or_throw([&](Status &status) { return remove_linked_pod_with_id(ns, uid, service, keep_seconds,
                                                                                   pod, status); });
  }
  bool touch_linked_pod(std::string_view ns, std::string_view uid, std::string_view service, std::int32_t pod,
                        std::int32_t persist_seconds) const {
    return detail::or_throw([&](Status &status) { return touch_linked_pod(ns, uid, service, pod, persist_seconds,
                                                                          status); });
  }
  [[nodiscard]] std::map<std::string, std::int32_t> get_link_services(std::string_view ns,
                                                                      std::string_view uid) const {
    return detail::or_throw([&](Status &status) { return get_link_services(ns, uid, status); });
  }
  void get_link_services_packed(std::string_view ns, std::string_view uid, Packed &out) const {
    detail::or_throw([&](Status &status) { get_link_services_packed(ns, uid, out, status); });
  }
  std::optional<std::int32_t> compute_linked_pod(std::string_view ns, std::string_view uid, std::string_view service,
                                                 std::int32_t persist_seconds, const Candidates &candidates) const {
    return detail::or_throw([&](Status &status) { return compute_linked_pod(ns, uid, service, persist_seconds,
                                                                            candidates, status); });
  }
  /** Throws only when the batch cannot run at all; each entry's own failure is thrown by
   *  Batch::get for that entry. */
  void execute_batch(Batch &batch) const {
    detail::or_throw([&](Status &status) { execute_batch(batch, status); });
  }
#endif

 private:
  static constexpr const char *link_args[3] = {"ns", "uid", "service"};
  detail::Owned<sf_executor, &sf_executor_close> ex_;
};

}  // namespace stateful_executor

#endif /* STATEFUL_EXECUTOR_HPP */
