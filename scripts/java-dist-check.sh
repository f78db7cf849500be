#!/usr/bin/env bash
# Publishes the Java binding as a release does and adopts it as a service team would:
#  1. mvn -Pdist deploy of bindings/java (the jar, -sources, -javadoc, the pom) to a file
#     repository in a scratch folder (the jars are also left in bindings/java/target/);
#  2. checks the jar: the native library under io/statefulexecutor/native/<platform>/, and
#     Enable-Native-Access: ALL-UNNAMED in its manifest;
#  3. builds the consumer project (bindings/java/consumer-check, copied out of the checkout) with a
#     scratch local repository, so that the jar can come from nowhere but the file repository;
#  4. runs it with `java -jar` against a throwaway redis-server on JDK 17 ($JAVA_HOME) and on a
#     JDK 24+ ($JAVA25_HOME), asserting that nothing reaches stderr but the library's own INFO
#     log records (no native-access warning); on the newer JDK also shows the warning that a launch without the grant prints
#     (so the assertion can see one), and that --enable-native-access=ALL-UNNAMED silences it.
#
#   JAVA_HOME=... JAVA25_HOME=... MVN="mvn -B -ntp" scripts/java-dist-check.sh VERSION PLATFORM
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=$1
platform=$2
mvn=${MVN:-mvn -B -ntp}
java17=${JAVA_HOME:?set JAVA_HOME to a JDK 17}
java25=${JAVA25_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
[ -x "$java25/bin/java" ] || {
  echo "java-dist-check: no JDK at JAVA25_HOME=$java25 (a JDK 24 or newer, for the native-access check)" >&2
  exit 1
}

work=$(mktemp -d -t sf-java-dist-XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
repo=$work/repo

# 1. Deploy (tests ran in java-test; the native library was built by make java-native).
(cd "$root/bindings/java" && JAVA_HOME="$java17" $mvn -q -Pdist -Dnative.skipBuild=true -DskipTests \
  -DaltDeploymentRepository="sf-dist::file://$repo" deploy)
artifact=$repo/io/statefulexecutor/stateful-executor/$version
for file in "stateful-executor-$version.jar" "stateful-executor-$version-sources.jar" \
  "stateful-executor-$version-javadoc.jar" "stateful-executor-$version.pom"; do
  [ -f "$artifact/$file" ] || { echo "java-dist-check: the deployment lacks $file" >&2; exit 1; }
  [ -f "$artifact/$file.sha1" ] || { echo "java-dist-check: the deployment lacks $file.sha1" >&2; exit 1; }
  [ -f "$root/bindings/java/target/${file}" ] || [ "${file%.pom}" != "$file" ] ||
    { echo "java-dist-check: bindings/java/target/ lacks $file" >&2; exit 1; }
done

# 2. What the jar and the pom carry.
python3 - "$artifact" "$version" "$platform" <<'EOF'
import sys, zipfile
artifact, version, platform = sys.argv[1:]
jar = zipfile.ZipFile(f"{artifact}/stateful-executor-{version}.jar")
native = f"io/statefulexecutor/native/{platform}/libstateful_executor_jni.so"
assert native in jar.namelist(), f"the jar has no {native}"
assert jar.read(native)[:4] == b"\x7fELF", f"{native} is not an ELF library"
manifest = jar.read("META-INF/MANIFEST.MF").decode()
assert "Enable-Native-Access: ALL-UNNAMED" in manifest.splitlines(), "manifest: " + manifest
sources = zipfile.ZipFile(f"{artifact}/stateful-executor-{version}-sources.jar").namelist()
assert "io/statefulexecutor/StatefulExecutor.java" in sources, "the sources jar lacks StatefulExecutor.java"
javadoc = zipfile.ZipFile(f"{artifact}/stateful-executor-{version}-javadoc.jar").namelist()
assert any(n.endswith("io/statefulexecutor/StatefulExecutor.html") for n in javadoc), \
    "the javadoc jar lacks StatefulExecutor.html"
pom = open(f"{artifact}/stateful-executor-{version}.pom").read()
for element in ("<name>", "<description>", "<url>", "<licenses>", "<scm>", "<developers>"):
    assert element in pom, f"the pom lacks {element}"
print(f"java-dist-check: the jar carries {native} ({len(jar.read(native)) / 2**20:.1f} MiB unpacked) "
      "and Enable-Native-Access: ALL-UNNAMED; sources and javadoc jars; the pom has what a repository asks")
EOF

# 3. The consumer project, outside the checkout, with a local repository of its own.
cp -r "$root/bindings/java/consumer-check" "$work/consumer"
rm -rf "$work/consumer/target"
# Maven's own plugins come from the machine's local repository, read as a file repository.
cache=${MAVEN_LOCAL_REPO:-$HOME/.m2/repository}
(cd "$work/consumer" && JAVA_HOME="$java17" $mvn -q -Dmaven.repo.local="$work/m2" \
  -Dsf.repository="file://$repo" -Dsf.version="$version" -Dcache.repository="file://$cache" \
  -Dmaven.test.skip=true package)
resolved=$work/m2/io/statefulexecutor/stateful-executor/$version
grep -q '^stateful-executor-'"$version"'\.jar>sf-dist=$' "$resolved/_remote.repositories" || {
  echo "java-dist-check: the consumer did not resolve the jar from the file repository:" >&2
  cat "$resolved/_remote.repositories" >&2
  exit 1
}
mkdir -p "$work/consumer/target/lib"
cp "$resolved/stateful-executor-$version.jar" "$work/consumer/target/lib/"

# 4. Run it on both JDKs; stderr must stay empty.
cd "$work/consumer"
run() { # run NAME JAVA ARGS...: stdout to NAME.out, stderr to NAME.err, against a throwaway server
  local name=$1
  shift
  env -u LD_LIBRARY_PATH -u JAVA_TOOL_OPTIONS -u JDK_JAVA_OPTIONS "$root/scripts/with-redis.sh" "$@" \
    >"$work/$name.out" 2>"$work/$name.err"
  grep -q "^consumer-check: stateful-executor $version on Java [0-9]* answered as documented\$" "$work/$name.out" || {
    echo "java-dist-check: $name did not finish:" >&2
    cat "$work/$name.out" "$work/$name.err" >&2
    exit 1
  }
}
quiet() { # quiet NAME: nothing on stderr but the library's own INFO records (java.util.logging's
  # default console format: a line with the time and the source, then "INFO: ...")
  if grep -qiE 'restricted method|native.access' "$work/$1.err"; then
    echo "java-dist-check: $1 printed a native-access warning:" >&2
    cat "$work/$1.err" >&2
    exit 1
  fi
  local rest
  rest=$(awk '/^INFO: / { held = 0; next } { if (held) print line; line = $0; held = 1 }
    END { if (held) print line }' "$work/$1.err")
  if [ -n "$rest" ]; then
    printf '%s\n' "$rest" >&2
    echo "java-dist-check: $1 wrote the above to stderr" >&2
    exit 1
  fi
}
classpath=target/consumer-check.jar:target/lib/stateful-executor-$version.jar
run jdk17 "$java17/bin/java" -jar target/consumer-check.jar
quiet jdk17
run jdk25 "$java25/bin/java" -jar target/consumer-check.jar
quiet jdk25
run jdk25-flag "$java25/bin/java" --enable-native-access=ALL-UNNAMED -cp "$classpath" example.consumer.ConsumerCheck
quiet jdk25-flag
# The control: launched from the class path without the grant, JDK 24+ warns (the library jar's
# own manifest attribute counts only when that jar is the one launched).
run jdk25-nogrant "$java25/bin/java" -cp "$classpath" example.consumer.ConsumerCheck
grep -q 'enable-native-access' "$work/jdk25-nogrant.err" || {
  echo "java-dist-check: expected JDK 25's native-access warning without the grant; stderr was:" >&2
  cat "$work/jdk25-nogrant.err" >&2
  exit 1
}
cat "$work/jdk17.out" "$work/jdk25.out" | grep -v '^(throwaway'
echo "java-dist-check: deployed to a file repository, resolved by a consumer project, ran on JDK 17 and" \
  "$("$java25/bin/java" -version 2>&1 | head -n 1 | cut -d'"' -f2), no warning on stderr"
