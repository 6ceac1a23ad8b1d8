#include "key_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace gpt::launch {
namespace {

bool private_to_owner(int fd, const std::string& path, std::string& error) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    error = path + ": " + std::strerror(errno);
    return false;
  }
  if (st.st_mode & 077) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", st.st_mode & 0777);
    error = "keys file " + path + " is readable by others (mode " + mode + "); chmod 600 it";
    return false;
  }
  return true;
}

}  // namespace

std::optional<net::CurveKeys> load_or_create_key_file(const std::string& path, std::string& error) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    auto keys = net::generate_curve_keys();
    const std::string text = net::encode_curve_keys(keys);
    bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ok = fsync(fd) == 0 && ok;
    close(fd);
    if (!ok) {
      error = "cannot write the keys file " + path;
      return std::nullopt;
    }
    return keys;
  }
  if (errno != EEXIST) {
    error = "cannot create the keys file " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  fd = open_key_file(path, error);
  if (fd < 0) return std::nullopt;
  return net::read_curve_keys(fd, error);
}

int open_key_file(const std::string& path, std::string& error) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    int fd = open(path.c_str(), O_RDONLY);  // inherited by the agent: no O_CLOEXEC
    if (fd >= 0) {
      struct stat st;
      if (!private_to_owner(fd, path, error)) {
        close(fd);
        return -1;
      }
      if (fstat(fd, &st) == 0 && st.st_size >= 82) return fd;  // complete
      close(fd);
    }
    if (std::chrono::steady_clock::now() > deadline) {
      error = "the keys file " + path + " did not appear within 30 s (is it on a file system task 0 shares?)";
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace gpt::launch
