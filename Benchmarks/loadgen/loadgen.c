/*
 * loadgen: a lightweight load generator for the user-rpc wire protocol, in the spirit of
 * redis-benchmark -P: one thread, non-blocking sockets, N connections each keeping DEPTH calls in
 * flight, requests written in batches. It does the least work a client can do (it finds the id and
 * the status code in each response without a full JSON parse), so it measures the server, not itself.
 *
 *   loadgen -p PORT [-h 127.0.0.1] [-c CONNECTIONS=4] [-d DEPTH=16] [-t SECONDS=10]
 *           -m METHOD -f PAYLOADS_FILE      (one JSON object per line, cycled)
 *
 * Prints one JSON line: calls, seconds, throughput, ok, errors, latency percentiles (µs), cpu_s.
 * Build: cc -O2 -o loadgen loadgen.c
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_LATENCY_US 2000000
#define RING 65536

typedef struct {
    int fd;
    uint64_t next_id;
    int in_flight;
    uint64_t sent_at[RING]; /* send time (ns) by id % RING */
    char *in; size_t in_len, in_cap;
    char *out; size_t out_len, out_cap;
} conn_t;

static char **payloads; static size_t payload_count, payload_next;
static const char *method;
static uint64_t latency_counts[MAX_LATENCY_US + 1];
static uint64_t calls, ok, errors;

static uint64_t now_ns(void) {
    struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void die(const char *what) { perror(what); exit(2); }

static void reserve(char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return;
    size_t n = *cap ? *cap : 65536; while (n < need) n *= 2;
    *buf = realloc(*buf, n); if (!*buf) die("realloc"); *cap = n;
}

static void queue_request(conn_t *c, uint64_t t) {
    const char *payload = payloads[payload_next++ % payload_count];
    char head[256];
    uint64_t id = c->next_id++;
    int n = snprintf(head, sizeof head, "{\"type\":\"request\",\"id\":%llu,\"method\":\"%s\",\"payload\":",
                     (unsigned long long)id, method);
    size_t plen = strlen(payload), body = (size_t)n + plen + 1;
    reserve(&c->out, &c->out_cap, c->out_len + 4 + body);
    uint32_t be = htonl((uint32_t)body);
    memcpy(c->out + c->out_len, &be, 4); c->out_len += 4;
    memcpy(c->out + c->out_len, head, n); c->out_len += n;
    memcpy(c->out + c->out_len, payload, plen); c->out_len += plen;
    c->out[c->out_len++] = '}';
    c->sent_at[id % RING] = t;
    c->in_flight++;
}

static void flush_out(conn_t *c) {
    size_t off = 0;
    while (off < c->out_len) {
        ssize_t w = write(c->fd, c->out + off, c->out_len - off);
        if (w < 0) { if (errno == EAGAIN) break; die("write"); }
        off += (size_t)w;
    }
    memmove(c->out, c->out + off, c->out_len - off); c->out_len -= off;
}

/* Handles every complete response in the input buffer; returns how many. */
static int handle_input(conn_t *c, uint64_t t, int measuring) {
    size_t off = 0; int handled = 0;
    while (c->in_len - off >= 4) {
        uint32_t be; memcpy(&be, c->in + off, 4); size_t n = ntohl(be);
        if (c->in_len - off - 4 < n) break;
        char *body = c->in + off + 4;
        char saved = body[n]; body[n] = 0;
        char *idp = strstr(body, "\"id\":");
        uint64_t id = idp ? strtoull(idp + 5, NULL, 10) : 0;
        int is_ok = strstr(body, "\"code\":\"OK\"") != NULL;
        body[n] = saved;
        if (measuring) {
            uint64_t us = (t - c->sent_at[id % RING]) / 1000;
            latency_counts[us > MAX_LATENCY_US ? MAX_LATENCY_US : us]++;
            calls++; if (is_ok) ok++; else errors++;
        }
        c->in_flight--; handled++;
        off += 4 + n;
    }
    memmove(c->in, c->in + off, c->in_len - off); c->in_len -= off;
    return handled;
}

static uint64_t percentile(double p) {
    uint64_t target = (uint64_t)(p / 100.0 * (double)calls + 0.5), seen = 0;
    if (target == 0) target = 1;
    for (uint64_t us = 0; us <= MAX_LATENCY_US; us++) { seen += latency_counts[us]; if (seen >= target) return us; }
    return MAX_LATENCY_US;
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *file = NULL; int port = 0, nconn = 4, depth = 16; double seconds = 10;
    int opt;
    while ((opt = getopt(argc, argv, "h:p:c:d:t:m:f:")) != -1) {
        switch (opt) {
        case 'h': host = optarg; break; case 'p': port = atoi(optarg); break;
        case 'c': nconn = atoi(optarg); break; case 'd': depth = atoi(optarg); break;
        case 't': seconds = atof(optarg); break; case 'm': method = optarg; break; case 'f': file = optarg; break;
        default: fprintf(stderr, "usage: loadgen -p PORT -m METHOD -f PAYLOADS [-c CONNS] [-d DEPTH] [-t SECONDS]\n"); return 2;
        }
    }
    if (!port || !method || !file || depth < 1 || depth >= RING || nconn < 1) { fprintf(stderr, "loadgen: bad arguments\n"); return 2; }
    FILE *f = fopen(file, "r"); if (!f) die(file);
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        size_t l = strlen(line); while (l && (line[l-1] == '\n' || line[l-1] == '\r')) line[--l] = 0;
        if (!l) continue;
        payloads = realloc(payloads, (payload_count + 1) * sizeof *payloads); payloads[payload_count++] = strdup(line);
    }
    fclose(f);
    if (!payload_count) { fprintf(stderr, "loadgen: no payloads\n"); return 2; }

    int ep = epoll_create1(0);
    conn_t *conns = calloc((size_t)nconn, sizeof *conns);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, host, &addr.sin_addr);
    for (int i = 0; i < nconn; i++) {
        conn_t *c = &conns[i];
        c->fd = socket(AF_INET, SOCK_STREAM, 0); if (c->fd < 0) die("socket");
        if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
        int one = 1; setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(c->fd, F_SETFL, O_NONBLOCK);
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
        c->next_id = 1;
    }
    struct rusage r0; getrusage(RUSAGE_SELF, &r0);
    uint64_t warmup_end = now_ns() + 500000000ull; /* 0.5 s warm-up, not measured */
    uint64_t start = 0, end = 0;
    for (int i = 0; i < nconn; i++) { uint64_t t = now_ns(); for (int k = 0; k < depth; k++) queue_request(&conns[i], t); flush_out(&conns[i]); }
    struct epoll_event events[64];
    for (;;) {
        uint64_t t = now_ns();
        if (!start && t >= warmup_end) { start = t; end = start + (uint64_t)(seconds * 1e9); getrusage(RUSAGE_SELF, &r0); }
        if (start && t >= end) break;
        int n = epoll_wait(ep, events, 64, 100);
        t = now_ns();
        for (int e = 0; e < n; e++) {
            conn_t *c = events[e].data.ptr;
            for (;;) {
                reserve(&c->in, &c->in_cap, c->in_len + 65536);
                ssize_t r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
                if (r < 0) { if (errno == EAGAIN) break; die("read"); }
                if (r == 0) { fprintf(stderr, "loadgen: server closed a connection\n"); return 1; }
                c->in_len += (size_t)r;
                if ((size_t)r < 65536) break;
            }
            int done = handle_input(c, t, start != 0);
            for (int k = 0; k < done; k++) queue_request(c, t);
            flush_out(c);
        }
    }
    struct rusage r1; getrusage(RUSAGE_SELF, &r1);
    double cpu = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) + (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) / 1e6
               + (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) + (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;
    double elapsed = (double)(now_ns() - start) / 1e9;
    printf("{\"calls\":%llu,\"seconds\":%.3f,\"throughput_per_s\":%.0f,\"ok\":%llu,\"errors\":%llu,"
           "\"latency_us\":{\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"p99.9\":%llu},\"cpu_s\":%.3f}\n",
           (unsigned long long)calls, elapsed, calls / elapsed, (unsigned long long)ok, (unsigned long long)errors,
           (unsigned long long)percentile(50), (unsigned long long)percentile(90), (unsigned long long)percentile(99),
           (unsigned long long)percentile(99.9), cpu);
    return errors ? 1 : 0;
}
