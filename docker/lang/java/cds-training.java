// Run once at image build time with -XX:ArchiveClassesAtExit: the classes it
// loads (the source launcher, javac, and the library parts typical programs
// use) go into a CDS archive that makes every later `java Main.java` start
// faster.  Not user-visible; the class name differs from the file name on
// purpose, as users' programs often do.
import java.io.*;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.*;
import java.util.function.*;
import java.util.stream.*;

public class Training {
    record Pair(String name, int value) {}

    interface Shape { double area(); }

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line = in.readLine();
        Scanner sc = new Scanner(line == null ? "3 1 2" : line);
        List<Integer> xs = new ArrayList<>();
        while (sc.hasNextInt()) xs.add(sc.nextInt());
        Collections.sort(xs);
        int[] arr = xs.stream().mapToInt(Integer::intValue).toArray();
        Arrays.sort(arr);
        Map<String, Integer> counts = new HashMap<>();
        TreeMap<String, List<Pair>> groups = new TreeMap<>();
        for (String w : "drill my brain drill".split(" ")) {
            counts.merge(w, 1, Integer::sum);
            groups.computeIfAbsent(w.substring(0, 1), k -> new LinkedList<>()).add(new Pair(w, w.length()));
        }
        Deque<Integer> dq = new ArrayDeque<>(xs);
        PriorityQueue<Integer> pq = new PriorityQueue<>(Comparator.reverseOrder());
        pq.addAll(dq);
        Set<Integer> seen = new HashSet<>(xs);
        Optional<String> longest = counts.keySet().stream().max(Comparator.comparingInt(String::length));
        String joined = IntStream.rangeClosed(1, 5).mapToObj(Integer::toString).collect(Collectors.joining(","));
        Function<Integer, Integer> sq = x -> x * x;
        Supplier<Shape> circle = () -> () -> Math.PI;
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%d %.3f %s%n", arr.length, circle.get().area(), joined));
        sb.append(BigInteger.valueOf(2).pow(100)).append(' ').append(sq.apply(7)).append(' ');
        sb.append(longest.orElse("")).append(' ').append(seen.size()).append(' ').append(pq.peek());
        sb.append(' ').append(groups.firstEntry().getValue().get(0));
        try {
            Object o = null;
            o.hashCode();
        } catch (NullPointerException e) {
            sb.append(" npe");
        }
        PrintWriter out = new PrintWriter(new BufferedWriter(new OutputStreamWriter(System.out)));
        out.println(sb);
        out.flush();
        System.err.println("stderr ok");
    }
}
