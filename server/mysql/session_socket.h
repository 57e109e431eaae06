#ifndef USERSERVICE_SERVER_MYSQL_SESSION_SOCKET_H_
#define USERSERVICE_SERVER_MYSQL_SESSION_SOCKET_H_

#include "absl/strings/string_view.h"

namespace userservice::mysql {

// The fd of this process's TCP socket whose local address is
// `client_address` as the server saw it ("IP:PORT" or "HOST:PORT", the
// HOST column of information_schema.PROCESSLIST) and whose peer port is
// `server_port`; -1 when there is no single such socket (a unix socket,
// NAT, a proxy). A numeric IP must match too; a host name cannot be
// compared, and then the ports alone must single the socket out.
//
// Connector/C++ does not expose its socket, so it is found this way, once
// per session, by scanning /proc/self/fd.
int FindSessionSocket(absl::string_view client_address, int server_port);

}  // namespace userservice::mysql

#endif  // USERSERVICE_SERVER_MYSQL_SESSION_SOCKET_H_
