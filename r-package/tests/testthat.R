library(testthat)
library(mcbridge)

test_check("mcbridge")
