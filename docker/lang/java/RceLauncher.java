// The Java image's launcher: compiles the job's sources in this JVM (javax.tools, the
// classes kept in memory, as `java Main.java` does), writes the wrapper's compile line
// (docs/protocol.md, "The compile line") on stdout and stderr, then, if the compile
// succeeded, runs the main class in the same JVM. One JVM start for both steps keeps
// Java's hello world as fast as source launch, and a compile error is the compile
// step's: verdict CE with javac's diagnostics.
//
// Judge mode runs the two steps apart, the compile step once and the program once per
// test: `--save DIR MAIN` compiles as below and writes the classes into DIR (the main
// class's name in DIR/.main), exit status 0, or 1 after a compile error, the wrapper
// writing the compile line; `--load DIR ARGS...` runs DIR's main class with ARGS.
//
// Arguments: the compile marker, the main file, then the program's arguments. Every
// .java file of the main file's directory is compiled, the main file first; the main
// class is the first top-level class of the main file (any name, as in source launch).
// The program's stdin, stdout, stderr, exit status and uncaught exceptions are as with
// `java Main.java`.

import com.sun.source.tree.ClassTree;
import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.Tree;
import com.sun.source.util.JavacTask;
import com.sun.source.util.TaskEvent;
import com.sun.source.util.TaskListener;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URI;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import javax.tools.FileObject;
import javax.tools.ForwardingJavaFileManager;
import javax.tools.ForwardingJavaFileObject;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileManager;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;

public final class RceLauncher {
    private RceLauncher() {}

    /** Class files as javac writes them, by binary name. */
    private static final class Classes extends ForwardingJavaFileManager<StandardJavaFileManager> {
        final Map<String, ByteArrayOutputStream> bytes = new HashMap<>();

        Classes(StandardJavaFileManager m) {
            super(m);
        }

        StandardJavaFileManager standard() {
            return fileManager;
        }

        @Override
        public JavaFileObject getJavaFileForOutput(Location location, String name, JavaFileObject.Kind kind,
                                                   FileObject sibling) {
            return new SimpleJavaFileObject(URI.create("mem:///" + name.replace('.', '/') + kind.extension), kind) {
                @Override
                public OutputStream openOutputStream() {
                    ByteArrayOutputStream out = new ByteArrayOutputStream();
                    bytes.put(name, out);
                    return out;
                }
            };
        }
    }

    /** Loads the compiled classes from memory, the application class path behind them. */
    private static final class Loader extends ClassLoader {
        private final Map<String, ByteArrayOutputStream> bytes;

        Loader(Map<String, ByteArrayOutputStream> bytes) {
            super(ClassLoader.getSystemClassLoader());
            this.bytes = bytes;
        }

        @Override
        protected Class<?> findClass(String name) throws ClassNotFoundException {
            ByteArrayOutputStream b = bytes.get(name);
            if (b == null)
                throw new ClassNotFoundException(name);
            byte[] code = b.toByteArray();
            return defineClass(name, code, 0, code.length);
        }
    }

    /** The field of /proc/self/stat after the command (field 3 is 0), or -1. */
    private static long statField(String stat, int field) {
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return field - 3 < f.length ? Long.parseLong(f[field - 3]) : -1;
    }

    /** The compile line: the step's status, its time since the JVM started and its figures. */
    private static String compileLine(String marker, int status) {
        String ms = "", cpu = "", rss = "";
        try {
            String stat = Files.readString(Path.of("/proc/self/stat"));
            double uptime = Double.parseDouble(Files.readString(Path.of("/proc/uptime")).split(" ")[0]);
            long hz = 100;          /* USER_HZ: the unit of /proc's clock ticks on Linux */
            ms = Long.toString(Math.max(0, (long) (uptime * 1000) - statField(stat, 22) * 1000 / hz));
            cpu = Long.toString((statField(stat, 14) + statField(stat, 15)) * 1000000 / hz);
            for (String line : Files.readAllLines(Path.of("/proc/self/status")))
                if (line.startsWith("VmHWM:"))
                    rss = line.replaceAll("[^0-9]", "");
        } catch (IOException | RuntimeException e) {
            /* a figure it cannot read stays empty: unknown */
        }
        return marker + " " + status + " " + ms + " " + cpu + " " + rss + " \n";
    }

    /** Every .java file beside the main one, the main one first. */
    private static List<Path> sources(Path main) throws IOException {
        List<Path> all = new ArrayList<>();
        all.add(main);
        Path dir = main.toAbsolutePath().getParent();
        try (Stream<Path> s = Files.list(dir)) {
            s.filter(p -> p.toString().endsWith(".java") && !p.getFileName().equals(main.getFileName()))
             .sorted().forEach(all::add);
        }
        return all;
    }

    /** Compiles; returns the main class's binary name, or null after a compile error. */
    private static String compile(Path main, Classes classes, PrintWriter err) throws IOException {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        List<JavaFileObject> units = new ArrayList<>();
        /* as in source launch, a public class need not be named after its file */
        for (JavaFileObject f : classes.standard().getJavaFileObjectsFromPaths(sources(main)))
            units.add(new ForwardingJavaFileObject<JavaFileObject>(f) {
                @Override
                public boolean isNameCompatible(String simpleName, JavaFileObject.Kind kind) {
                    return kind == JavaFileObject.Kind.SOURCE;
                }
            });
        JavacTask task = (JavacTask) javac.getTask(err, classes, null,
            List.of("-proc:none", "-encoding", "UTF-8"), null, units);
        String[] first = { null };
        task.addTaskListener(new TaskListener() {
            @Override
            public void finished(TaskEvent e) {
                if (e.getKind() != TaskEvent.Kind.PARSE || first[0] != null
                    || !e.getSourceFile().getName().endsWith(main.getFileName().toString()))
                    return;
                CompilationUnitTree cu = e.getCompilationUnit();
                String pkg = cu.getPackageName() == null ? "" : cu.getPackageName() + ".";
                for (Tree t : cu.getTypeDecls())
                    if (t instanceof ClassTree) {
                        first[0] = pkg + ((ClassTree) t).getSimpleName();
                        return;
                    }
            }
        });
        boolean ok = task.call();
        err.flush();
        return ok ? first[0] : null;
    }

    /** --save DIR MAIN: the compile step of judge mode; returns the exit status. */
    private static int save(Path dir, Path main, PrintWriter err) throws IOException {
        Classes classes = new Classes(ToolProvider.getSystemJavaCompiler()
            .getStandardFileManager(null, null, StandardCharsets.UTF_8));
        String name = compile(main, classes, err);
        if (name == null || !classes.bytes.containsKey(name)) {
            if (name != null)
                err.println("error: no class declared in " + main.getFileName());
            return 1;
        }
        for (Map.Entry<String, ByteArrayOutputStream> c : classes.bytes.entrySet()) {
            Path file = dir.resolve(c.getKey().replace('.', '/') + ".class");
            Files.createDirectories(file.getParent());
            Files.write(file, c.getValue().toByteArray());
        }
        Files.writeString(dir.resolve(".main"), name);
        return 0;
    }

    /** --load DIR ARGS...: a test's run in judge mode. */
    private static void load(Path dir, String[] args) throws Throwable {
        String name = Files.readString(dir.resolve(".main")).trim();
        URL[] path = { dir.toAbsolutePath().toUri().toURL() };
        run(new URLClassLoader(path, ClassLoader.getSystemClassLoader()), name, args);
    }

    public static void main(String[] argv) throws Throwable {
        if (argv.length >= 3 && argv[0].equals("--save"))
            System.exit(save(Path.of(argv[1]), Path.of(argv[2]),
                             new PrintWriter(System.err, true, StandardCharsets.UTF_8)));
        if (argv.length >= 2 && argv[0].equals("--load")) {
            load(Path.of(argv[1]), Arrays.copyOfRange(argv, 2, argv.length));
            return;
        }
        String marker = argv[0];
        Path main = Path.of(argv[1]);
        String[] args = Arrays.copyOfRange(argv, 2, argv.length);
        PrintWriter err = new PrintWriter(System.err, true, StandardCharsets.UTF_8);
        Classes classes = new Classes(ToolProvider.getSystemJavaCompiler()
            .getStandardFileManager(null, null, StandardCharsets.UTF_8));
        String name = compile(main, classes, err);
        if (name == null || !classes.bytes.containsKey(name)) {
            if (name != null)
                err.println("error: no class declared in " + main.getFileName());
            String line = compileLine(marker, 1);
            System.out.print(line);
            System.out.flush();
            System.err.print(line);
            System.err.flush();
            System.exit(1);
        }
        String line = compileLine(marker, 0);
        System.out.print(line);
        System.out.flush();
        System.err.print(line);
        System.err.flush();
        run(new Loader(classes.bytes), name, args);
    }

    /** Runs name's main(String[]) as source launch does. */
    private static void run(ClassLoader loader, String name, String[] args) throws Throwable {
        Class<?> c = Class.forName(name, false, loader);
        Method m;
        try {
            m = c.getMethod("main", String[].class);
        } catch (NoSuchMethodException e) {
            System.err.println("error: can't find main(String[]) method in class: " + name);
            System.exit(1);
            return;
        }
        if (!Modifier.isStatic(m.getModifiers())) {
            System.err.println("error: 'main' method is not declared 'public static'");
            System.exit(1);
        }
        Thread.currentThread().setContextClassLoader(loader);
        try {
            m.invoke(null, (Object) args);
        } catch (InvocationTargetException e) {
            Throwable t = e.getCause();
            /* as the JVM reports an uncaught exception of main, without this launcher's frames */
            StackTraceElement[] st = t.getStackTrace();
            int keep = st.length;
            while (keep > 0 && !st[keep - 1].getClassName().equals(name)
                   && !st[keep - 1].getClassName().startsWith(name + "$"))
                keep--;
            if (keep > 0)
                t.setStackTrace(Arrays.copyOf(st, keep));
            throw t;        /* the JVM reports it and exits 1 once the other threads end */
        }
    }
}
