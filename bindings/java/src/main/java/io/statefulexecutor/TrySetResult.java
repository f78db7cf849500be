package io.statefulexecutor;

/**
 * The result of {@link StatefulExecutor#trySetLinkedPod}: whether the link was written, and the
 * pod the uid is linked to now (the new pod when linked, else the pod of the persistent link
 * that refused it).
 */
public record TrySetResult(boolean linked, int pod) {}
