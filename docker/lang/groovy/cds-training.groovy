// Run once at image build time with -XX:ArchiveClassesAtExit: the classes it
// loads (the compiler, the runtime, the collections and closures typical
// scripts use) go into a CDS archive that makes every later run start faster.
// Not user-visible.
import groovy.json.JsonOutput
import groovy.json.JsonSlurper

class Pair { String name; int value }

def line = System.in.newReader().readLine() ?: '3 1 2'
def xs = line.trim().split(/\s+/).collect { it as long }.sort()
def counts = 'drill my brain drill'.split(' ').countBy { it }
def m = [a: 1, b: [2, 3]]
def json = JsonOutput.toJson(m)
def back = new JsonSlurper().parseText(json)
def sb = new StringBuilder()
xs.eachWithIndex { x, i -> sb << "${i}:${x} " }
println "${xs.join(',')} ${xs.max()} ${counts} ${json} ${back.b.sum()} ${sb}"
println String.format('%.2f', Math.PI) + ' ' + (1..10).findAll { it % 2 }.inject(0) { a, b -> a + b }
println new Pair(name: 'a', value: 1).name + ' ' + (2G ** 70) + ' ' + 1.5G
try { 1 / 0 } catch (ArithmeticException e) { println 'caught' }
System.err.println 'stderr ok'
