;; Run once at image build time with -XX:ArchiveClassesAtExit: the classes it
;; loads (clojure.main, clojure.core and the namespaces typical programs use)
;; go into a CDS archive that makes every later run start faster.  Not
;; user-visible.
(ns training
  (:require [clojure.string :as str]
            [clojure.set :as set]
            [clojure.walk :as walk]
            [clojure.edn :as edn]
            [clojure.pprint :as pp]))

(defrecord Pair [name value])

(defprotocol Shape (area [s]))
(defrecord Circle [r] Shape (area [_] (* Math/PI r r)))
(defrecord Square [s] Shape (area [_] (* s s)))

(defmulti describe count)
(defmethod describe 0 [_] "none")
(defmethod describe 1 [_] "one")
(defmethod describe :default [_] "many")

(defn -main []
  (let [line (or (read-line) "3 1 2")
        xs (sort (map #(Long/parseLong %) (str/split (str/trim line) #"\s+")))
        counts (frequencies (str/split "drill my brain drill" #" "))
        total (reduce + (map area [(->Circle 1.0) (->Square 2.0)]))
        v (transient [])
        m (atom {})
        sb (StringBuilder.)]
    (doseq [x xs] (conj! v x) (swap! m update x (fnil inc 0)))
    (.append sb (format "%s %s %.2f %d" (str/join "," xs) (describe xs) total
                        (last (take 10 (iterate #(* 2 %) 1)))))
    (println (str sb) (persistent! v) @m (set/union #{1 2} #{3})
             (walk/keywordize-keys {"a" 1}) (edn/read-string "{:x [1 2]}")
             (->Pair "a" 1) (into (sorted-map) counts) (vec (range 3))
             (mapv inc (filter odd? (range 10))) (apply max xs)
             (loop [i 0 acc 0] (if (< i 100) (recur (inc i) (+ acc i)) acc))
             (try (/ 1 0) (catch ArithmeticException _ :caught))
             (biginteger 12345678901234567890) (bigdec 1.5) (rationalize 0.25))
    (pp/pprint {:counts counts :xs xs})
    (binding [*out* *err*] (println "stderr ok"))
    (flush)))

(-main)
