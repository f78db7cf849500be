import io.statefulexecutor.StatefulExecutor;
import java.util.Map;

public class Example {
    public static void main(String[] args) {
        String url = System.getenv().getOrDefault("REDIS_URL", "redis://127.0.0.1:6379");
        try (StatefulExecutor executor = StatefulExecutor.open(url)) {
            executor.setServiceState("prod", "chat", 0, "Running");
            Map<Integer, String> states = executor.getServiceState("prod", "chat");
            int pod = executor.setLinkedPodIfAbsent("prod", "user-42", "chat", 0, StatefulExecutor.PERSISTENT);
            System.out.println("user-42 -> chat pod " + pod + " (" + states.get(pod) + ")");
        }
    }
}
