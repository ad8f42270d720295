// Compiled once at image build time with -XX:ArchiveClassesAtExit: the
// compiler classes it needs go into a CDS archive that makes every later
// kotlinc start faster.  Not user-visible.
import java.io.BufferedReader
import java.io.InputStreamReader

data class Pair2(val name: String, val value: Int)

sealed class Shape {
    abstract fun area(): Double
    class Circle(val r: Double) : Shape() { override fun area() = Math.PI * r * r }
    class Square(val s: Double) : Shape() { override fun area() = s * s }
}

interface Greeter { fun greet(who: String): String = "hello $who" }
object Default : Greeter

enum class Color { RED, GREEN }

fun <T : Comparable<T>> maxOf3(a: T, b: T, c: T): T = maxOf(a, maxOf(b, c))

fun main(args: Array<String>) {
    val reader = BufferedReader(InputStreamReader(System.`in`))
    val line = reader.readLine() ?: "3 1 2"
    val xs = line.split(" ").filter { it.isNotBlank() }.map { it.toInt() }.sorted()
    val counts = mutableMapOf<String, Int>()
    for (w in "drill my brain drill".split(" ")) counts[w] = (counts[w] ?: 0) + 1
    val shapes: List<Shape> = listOf(Shape.Circle(1.0), Shape.Square(2.0))
    val total = shapes.sumByDouble { it.area() }
    val desc = when (xs.size) { 0 -> "none"; 1 -> "one"; else -> "many" }
    val seq = generateSequence(1) { it * 2 }.take(10).toList()
    val sb = StringBuilder()
    sb.append("${xs.joinToString(",")} $desc ${"%.2f".format(total)} ${seq.last()}")
    sb.append(' ').append(Default.greet("x")).append(' ').append(maxOf3(1, 5, 3))
    sb.append(' ').append(Color.values().map { it.name.toLowerCase() })
    sb.append(' ').append(Pair2("a", 1).copy(value = 2))
    val arr = IntArray(5) { it * it }
    val lazyVal by lazy { arr.sum() }
    try {
        val n: String? = if (args.size > 10) "x" else null
        println(n!!.length)
    } catch (e: NullPointerException) {
        sb.append(" npe $lazyVal")
    }
    println(sb)
    System.err.println(counts.entries.sortedBy { it.key }.joinToString())
}
