/*
 * A unix-socket server that is not a working QMP, for the error tests of
 * `memtree capture` and `watch` (tests/qemu/qemu_test.sh):
 *   fake_qmp garbage PATH   greets with a line that is not JSON
 *   fake_qmp silent PATH    accepts and never writes
 *   fake_qmp mute PATH      greets like QMP, then never answers
 * Serves one client, then exits; it exits anyway after 60 seconds, so a
 * test that goes wrong leaves nothing behind.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fake_qmp garbage|silent|mute PATH\n");
        return 2;
    }
    alarm(60);
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(argv[2]) >= sizeof(sa.sun_path))
        return 2;
    strcpy(sa.sun_path, argv[2]);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1)) {
        perror("fake_qmp");
        return 2;
    }
    int c = accept(fd, NULL, NULL);
    if (c < 0)
        return 2;
    const char *mode = argv[1];
    if (!strcmp(mode, "garbage")) {
        const char msg[] = "SSH-2.0-OpenSSH_9.2 hello\r\n";
        if (write(c, msg, sizeof(msg) - 1) < 0)
            return 2;
    } else if (!strcmp(mode, "mute")) {
        const char msg[] = "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, "
                           "\"minor\": 2, \"major\": 7}, \"package\": \"\"}, "
                           "\"capabilities\": [\"oob\"]}}\r\n";
        if (write(c, msg, sizeof(msg) - 1) < 0)
            return 2;
    }
    /* Hold the connection open without answering until the client leaves. */
    char buf[256];
    while (read(c, buf, sizeof(buf)) > 0)
        ;
    close(c);
    unlink(argv[2]);
    return 0;
}
