# CooRTweet 2.1.3's own multimodal network on long.csv (made by make_fixture.py), written to expected_edges.csv.
# Usage: TZ=UTC Rscript tests/data/coortweet_multimodal/run_coortweet.R
# Follows CooRTweet's vignette ("Multi-Modal and Multi-Platform Analysis") and reproduce_examples.Rmd: prep_data
# per object column, unique() by (object_id, account_id, content_id, timestamp_share), rows without the object
# dropped, detect_groups per object type, the results stacked with rbindlist, one generate_coordinated_network.
# Output: one row per edge of each network (network = the object types pooled, joined by "+"): account_id and
# account_id_y (the edge's ends, account_id the smaller in byte order), weight, avg_time_delta, weight_threshold.
suppressPackageStartupMessages({library(CooRTweet); library(data.table); library(igraph)})
invisible(Sys.setlocale("LC_COLLATE", "C"))  # pmin/pmax of account ids in byte order, as echoscope orders them
here <- dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))))
time_window <- 60
min_participation <- 2
edge_weight <- 0.5
x <- fread(file.path(here, "long.csv"), na.strings = "",
           colClasses = c(account_id = "character", post_id = "character", url = "character", hashtag = "character",
                          domain = "character", phash = "character", timestamp = "numeric"))
prep <- function(column, prefix) {
  d <- prep_data(copy(x), object_id = column, account_id = "account_id", content_id = "post_id",
                 timestamp_share = "timestamp")
  d <- unique(d, by = c("object_id", "account_id", "content_id", "timestamp_share"))
  d <- d[!is.na(object_id)]
  d$object_id <- paste0(prefix, d$object_id)
  d[, c("object_id", "account_id", "content_id", "timestamp_share")]
}
types <- list("co-link" = c("url", "url_"), "co-hashtag" = c("hashtag", "hashtag_"),
              "co-domain" = c("domain", "domain_"), "co-media" = c("phash", "hash_"))
groups <- lapply(types, function(t) detect_groups(prep(t[1], t[2]), time_window = time_window,
                                                  min_participation = min_participation))
networks <- list("co-link", "co-hashtag", "co-domain", "co-media", c("co-link", "co-media"),
                 c("co-link", "co-hashtag", "co-domain", "co-media"))
out <- rbindlist(lapply(networks, function(n) {
  g <- generate_coordinated_network(rbindlist(groups[n], use.names = TRUE, fill = TRUE),
                                    edge_weight = edge_weight, subgraph = 0)
  e <- as.data.table(as_data_frame(g, what = "edges"))
  cat(paste(n, collapse = "+"), ": share pairs", sum(sapply(groups[n], nrow)), "edges", nrow(e),
      "above the threshold", sum(e$weight_threshold), "\n")
  # an undirected igraph lists an edge's ends in vertex order (first appearance), not by name: put them in order
  data.table(network = paste(n, collapse = "+"), account_id = pmin(e$from, e$to), account_id_y = pmax(e$from, e$to),
             weight = e$weight,
             avg_time_delta = round(e$avg_time_delta, 6), weight_threshold = e$weight_threshold)
}))
setorder(out, network, account_id, account_id_y)
fwrite(out, file.path(here, "expected_edges.csv"))
