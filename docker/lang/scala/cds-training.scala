// Compiled once at image build time with -XX:ArchiveClassesAtExit: the
// compiler classes it needs go into a CDS archive that makes every later
// scalac start faster.  Not user-visible.
import scala.collection.mutable
import scala.io.StdIn

case class Pair2(name: String, value: Int)

sealed trait Shape { def area: Double }
final case class Circle(r: Double) extends Shape { def area: Double = math.Pi * r * r }
final case class Square(s: Double) extends Shape { def area: Double = s * s }

trait Greeter { def greet(who: String): String = s"hello $who" }
object Default extends Greeter

object Training {
  def max3[T](a: T, b: T, c: T)(implicit ord: Ordering[T]): T = ord.max(a, ord.max(b, c))

  def main(args: Array[String]): Unit = {
    val line = Option(StdIn.readLine()).getOrElse("3 1 2")
    val xs = line.split(" ").filter(_.nonEmpty).map(_.toInt).sorted.toList
    val counts = mutable.Map.empty[String, Int].withDefaultValue(0)
    for (w <- "drill my brain drill".split(" ")) counts(w) += 1
    val shapes: List[Shape] = List(Circle(1.0), Square(2.0))
    val total = shapes.map(_.area).sum
    val desc = xs match {
      case Nil => "none"
      case _ :: Nil => "one"
      case _ => "many"
    }
    val stream = Iterator.iterate(1)(_ * 2).take(10).toVector
    val sb = new StringBuilder
    sb ++= s"${xs.mkString(",")} $desc ${"%.2f".format(total)} ${stream.last}"
    sb ++= " " + Default.greet("x") + " " + max3(1, 5, 3) + " " + Pair2("a", 1).copy(value = 2)
    lazy val lazyVal = (1 to 5).map(i => i * i).sum
    try {
      val n: String = if (args.length > 10) "x" else null
      println(n.length)
    } catch {
      case _: NullPointerException => sb ++= s" npe $lazyVal"
    }
    println(sb.toString)
    System.err.println(counts.toSeq.sortBy(_._1).mkString(", "))
  }
}
