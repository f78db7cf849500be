package io.statefulexecutor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** TLS through the builder: a TLS-only redis-server with certificates made by the openssl CLI. */
class TlsTest {
    private static Path certs;

    @BeforeAll
    static void makeCertificates() throws Exception {
        certs = Files.createTempDirectory("sf-java-certs-");
        List<String> ec = List.of("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1");
        List<String> ca = new ArrayList<>(List.of("req", "-x509", "-new", "-nodes"));
        ca.addAll(ec);
        ca.addAll(List.of("-keyout", "ca.key", "-out", "ca.crt", "-days", "3", "-subj", "/CN=sf-java-test-ca",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"));
        openssl(ca);
        Files.writeString(certs.resolve("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                + "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                + "extendedKeyUsage=serverAuth,clientAuth\n");
        Files.writeString(certs.resolve("client.ext"), "basicConstraints=CA:FALSE\n"
                + "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n");
        for (String name : List.of("server", "client")) {
            List<String> req = new ArrayList<>(List.of("req", "-new", "-nodes"));
            req.addAll(ec);
            req.addAll(List.of("-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name));
            openssl(req);
            openssl(List.of("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                    "-CAcreateserial", "-out", name + ".crt", "-days", "3", "-extfile", name + ".ext"));
        }
    }

    private static void openssl(List<String> args) throws Exception {
        List<String> command = new ArrayList<>();
        command.add("openssl");
        command.addAll(args);
        Process p = new ProcessBuilder(command).directory(certs.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), "openssl " + args + ": " + out);
    }

    @AfterAll
    static void removeCertificates() throws IOException {
        try (Stream<Path> files = Files.walk(certs)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private static RedisServer tlsServer(boolean authClients) {
        return RedisServer.startWith(port -> List.of(
                "--port", "0", "--tls-port", Integer.toString(port),
                "--tls-cert-file", certs.resolve("server.crt").toString(),
                "--tls-key-file", certs.resolve("server.key").toString(),
                "--tls-ca-cert-file", certs.resolve("ca.crt").toString(),
                "--tls-auth-clients", authClients ? "yes" : "no"));
    }

    @Test
    void rediss_withTheTestCa() {
        try (RedisServer server = tlsServer(false);
                StatefulExecutor ex = StatefulExecutor.builder("rediss://127.0.0.1:" + server.port)
                        .tlsCaFile(certs.resolve("ca.crt"))
                        .open()) {
            ex.setServiceState("tls", "chat", 1, "🔒Up");
            assertEquals("🔒Up", ex.getServiceState("tls", "chat").get(1));
        }
    }

    @Test
    void unknownCaIsRefused() {
        try (RedisServer server = tlsServer(false)) {
            StatefulExecutorException e = assertThrows(StatefulExecutorException.class,
                    () -> StatefulExecutor.open("rediss://127.0.0.1:" + server.port));
            assertTrue(e.status() != Status.OK, e.getMessage());
        }
    }

    @Test
    void clientCertificateWhenTheServerAsksForOne() {
        try (RedisServer server = tlsServer(true)) {
            String url = "rediss://127.0.0.1:" + server.port;
            try (StatefulExecutor ex = StatefulExecutor.builder(url)
                    .tlsCaFile(certs.resolve("ca.crt"))
                    .tlsClientCert(certs.resolve("client.crt"), certs.resolve("client.key"))
                    .open()) {
                assertEquals(-1, ex.setLinkedPod("tls", "u", "chat", 2, -1));
                assertEquals(2, ex.getLinkedPod("tls", "u", "chat"));
            }
            assertThrows(StatefulExecutorException.class,
                    () -> StatefulExecutor.builder(url).tlsCaFile(certs.resolve("ca.crt")).open());
        }
    }
}
