package example.consumer;

import io.statefulexecutor.StatefulExecutor;
import io.statefulexecutor.TrySetResult;
import java.util.List;
import java.util.Map;

/**
 * A service's use of the released jar, as a consumer project builds it: a few operations
 * against the Redis at $REDIS_URL, each answer checked; exits non-zero at the first wrong one.
 * The release check (make java-dist-check) runs it with JDK 17 and JDK 25.
 */
public final class ConsumerCheck {
    private ConsumerCheck() {}

    private static void expect(String what, Object got, Object want) {
        if (!want.equals(got)) {
            System.out.println("consumer-check: " + what + ": got " + got + ", want " + want);
            System.exit(1);
        }
    }

    public static void main(String[] args) {
        String url = System.getenv("REDIS_URL");
        if (url == null) {
            System.out.println("consumer-check: set REDIS_URL");
            System.exit(2);
        }
        String ns = "consumer-check-" + ProcessHandle.current().pid();
        try (StatefulExecutor executor = StatefulExecutor.open(url)) {
            executor.setServiceState(ns, "chat", 0, "Running");
            executor.setServiceState(ns, "chat", 1, "Draining");
            expect("getServiceState", executor.getServiceState(ns, "chat"), Map.of(0, "Running", 1, "Draining"));
            int pod = executor.setLinkedPodIfAbsent(ns, "user-42", "chat", 1, StatefulExecutor.PERSISTENT);
            expect("setLinkedPodIfAbsent", pod, 1);
            TrySetResult refused = executor.trySetLinkedPod(ns, "user-42", "chat", 0, StatefulExecutor.PERSISTENT);
            expect("trySetLinkedPod over a persistent link", refused, new TrySetResult(false, 1));
            expect("batchGetLinkedPod", executor.batchGetLinkedPod(ns, List.of("user-42", "user-7"), "chat"),
                    Map.of(1, List.of("user-42")));
            expect("removeLinkedPod", executor.removeLinkedPod(ns, "user-42", "chat", 0), true);
            expect("getLinkedPod after remove", executor.getLinkedPod(ns, "user-42", "chat"), StatefulExecutor.NO_POD);
        }
        System.out.println("consumer-check: stateful-executor " + StatefulExecutor.nativeVersion() + " on Java "
                + Runtime.version().feature() + " answered as documented");
    }
}
